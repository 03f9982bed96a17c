;;; hybrid-assist.el --- Eglot configuration for the hybrid-assist language server  -*- lexical-binding: t; -*-

;; Package-Requires: ((emacs "27.1") (eglot "1.9"))
;; Keywords: tools, languages

;;; Commentary:

;; Registers `hybrid-assist lsp' (stdio) with Eglot for the major modes in
;; `hybrid-assist-modes', and adds commands around the server's
;; `workspace/executeCommand' commands:
;;
;;   M-x hybrid-assist-explain-route  where a task at point would run, and why
;;   M-x hybrid-assist-review         review this file with hybrid.review (findings
;;                                    arrive as diagnostics)
;;   M-x hybrid-assist-status         local engine, providers, acceptance counts
;;
;; AI code actions (M-x eglot-code-actions): Eglot 1.16 and later resolve
;; them lazily.  Older Eglot (Emacs 28 with GNU ELPA's or Debian's Eglot 1.9,
;; Emacs 29's built-in 1.12) never sends codeAction/resolve, so the server
;; offers each one as the command hybrid.runAction, computes the edit and
;; applies it with workspace/applyEdit; this file runs that command without
;; blocking Emacs while the model answers and applies its edit without the
;; usual server-edit prompt (`hybrid-assist-confirm-action-edits').
;;
;; Usage:
;;   (require 'hybrid-assist)          ; or (load "/path/to/editors/emacs/hybrid-assist.el")
;;   (add-hook 'python-mode-hook #'eglot-ensure)
;;
;; Eglot runs one server per major mode: this entry takes precedence over
;; other Python/JS/... servers in `eglot-server-programs'.
;;
;; A shared team server (`hybrid-assist lsp --tcp HOST:PORT' with
;; `[server] auth = "keys"'): set `hybrid-assist-server-address' to
;; ("HOST" PORT); the key is read from $HYBRID_ASSIST_KEY
;; (`hybrid-assist-key-env') or the first line of `hybrid-assist-key-file' and
;; sent as initializationOptions {"hybridAssist": {"key": ...}}.  Never put the
;; key itself in your init file.

;;; Code:

(require 'eglot)
(require 'jsonrpc)
(require 'subr-x)

(defgroup hybrid-assist nil
  "AI completions, hovers and code actions from hybrid-assist."
  :group 'tools
  :prefix "hybrid-assist-")

(defcustom hybrid-assist-command '("hybrid-assist" "lsp")
  "Command line starting the hybrid-assist language server on stdio.
Use an absolute path (e.g. \"/path/to/.venv/bin/hybrid-assist\") when the
virtual environment is not on `exec-path'."
  :type '(repeat string))

(defcustom hybrid-assist-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode typescript-ts-mode
    go-mode go-ts-mode rust-mode rust-ts-mode java-mode java-ts-mode c-mode c-ts-mode
    c++-mode c++-ts-mode ruby-mode ruby-ts-mode lua-mode sh-mode bash-ts-mode)
  "Major modes whose buffers Eglot manages with hybrid-assist."
  :type '(repeat symbol))

(defcustom hybrid-assist-server-address nil
  "Host and port of a shared server, e.g. (\"ai.example.internal\" 2087).
nil: start `hybrid-assist-command' on stdio."
  :type '(choice (const :tag "Start a server on stdio" nil) (list string integer)))

(defcustom hybrid-assist-key-env "HYBRID_ASSIST_KEY"
  "Environment variable holding your key for a shared server."
  :type 'string)

(defcustom hybrid-assist-key-file nil
  "File whose first line is your key, read when `hybrid-assist-key-env' is unset."
  :type '(choice (const nil) file))

(defcustom hybrid-assist-confirm-action-edits nil
  "Non-nil: ask before applying the edit of an AI code action run as a command.
Eglot before 1.16 runs AI code actions as the server's hybrid.runAction,
whose edit comes back as a server-initiated edit, which Eglot confirms
according to `eglot-confirm-server-initiated-edits'; nil applies the edit of
the action you chose without asking."
  :type 'boolean)

(defcustom hybrid-assist-action-timeout 600
  "Seconds to wait for an AI code action run as a command (hybrid.runAction)."
  :type 'integer)

(defclass hybrid-assist-server (eglot-lsp-server) ()
  :documentation "The hybrid-assist language server: sends the user's key at initialize.")

(defun hybrid-assist-read-key ()
  "Your key for a shared server, or nil.
$`hybrid-assist-key-env', else the first line of `hybrid-assist-key-file'."
  (let ((value (and hybrid-assist-key-env (getenv hybrid-assist-key-env))))
    (cond ((and value (not (string-empty-p (string-trim value)))) (string-trim value))
          ((and hybrid-assist-key-file (file-readable-p (expand-file-name hybrid-assist-key-file)))
           (with-temp-buffer
             (insert-file-contents (expand-file-name hybrid-assist-key-file))
             (let ((line (string-trim (buffer-substring (point-min) (line-end-position)))))
               (unless (string-empty-p line) line)))))))

(cl-defmethod eglot-initialization-options ((_server hybrid-assist-server))
  "initializationOptions {\"hybridAssist\": {\"key\": ...}} when a key is set, else {}."
  (let ((key (hybrid-assist-read-key)))
    (if key (list :hybridAssist (list :key key)) eglot--{})))

(defun hybrid-assist--contact (&optional _interactive)
  "The Eglot contact.
`hybrid-assist-server-address' (TCP) or `hybrid-assist-command' (stdio)."
  (cons 'hybrid-assist-server
        (copy-sequence (or hybrid-assist-server-address hybrid-assist-command))))

(defun hybrid-assist-register ()
  "Put hybrid-assist first in `eglot-server-programs' for `hybrid-assist-modes'."
  (setq eglot-server-programs
        (cons (cons hybrid-assist-modes #'hybrid-assist--contact)
              (cl-remove-if (lambda (entry) (eq (cdr-safe entry) #'hybrid-assist--contact))
                            eglot-server-programs))))

(hybrid-assist-register)

(defun hybrid-assist--command (command &rest arguments)
  "Run the server's workspace/executeCommand COMMAND with ARGUMENTS.
Return its result."
  (jsonrpc-request (eglot--current-server-or-lose) :workspace/executeCommand
                   (list :command command :arguments (apply #'vector arguments))))

(defvar hybrid-assist--running-actions nil
  "Titles of the AI code actions running as hybrid.runAction.")

(defvar hybrid-assist-last-action-result nil
  "What the last hybrid.runAction answered (a plist: :task :edit :applied, and
:failure_reason, :shown or :cancelled), or (:error MESSAGE).")

(cl-defmethod eglot-execute-command ((server hybrid-assist-server) (_command (eql hybrid.runAction)) arguments)
  "Run an AI code action (Eglot before 1.16) without blocking Emacs.
ARGUMENTS is the one object {uri, range, task, title, ...} of the action.  The
server computes the edit and applies it with workspace/applyEdit; what it
could not do it says in the echo area."
  (let* ((argument (if (vectorp arguments) (aref arguments 0) (car arguments)))
         (title (or (plist-get argument :title) "AI action")))
    (push title hybrid-assist--running-actions)
    (setq hybrid-assist-last-action-result nil)
    (message "hybrid-assist: %s..." title)
    (cl-flet ((done (result)
                (setq hybrid-assist--running-actions (delete title hybrid-assist--running-actions))
                (setq hybrid-assist-last-action-result result)
                (when (plist-get result :cancelled)
                  (message "hybrid-assist: %s: cancelled" title))))
      (jsonrpc-async-request
       server :workspace/executeCommand
       (list :command "hybrid.runAction" :arguments (vector argument))
       :success-fn #'done
       :error-fn (lambda (error)
                   (done (list :error (plist-get error :message)))
                   (message "hybrid-assist: %s failed: %s" title (plist-get error :message)))
       :timeout-fn (lambda ()
                     (done (list :error "timed out"))
                     (message "hybrid-assist: %s: no answer within %ss" title hybrid-assist-action-timeout))
       :timeout hybrid-assist-action-timeout))))

(cl-defmethod eglot-handle-request ((_server hybrid-assist-server) (_method (eql workspace/applyEdit))
                                    &key label &allow-other-keys)
  "Apply the edit of an AI code action the user chose without asking again.
See `hybrid-assist-confirm-action-edits'; other server edits are confirmed
as usual."
  (if (and (not hybrid-assist-confirm-action-edits) (member label hybrid-assist--running-actions))
      (let ((eglot-confirm-server-initiated-edits nil))
        (cl-call-next-method))
    (cl-call-next-method)))

(defun hybrid-assist--format-route (result)
  "A human-readable description of an explainRoute RESULT (a plist)."
  (let* ((route (plist-get result :route))
         (scope (plist-get result :scope))
         (estimate (plist-get result :estimate))
         (reasons (plist-get route :reasons)))
    (concat
     (format "%s -> %s (%s)\nscope: %s\n"
             (plist-get result :task) (plist-get route :target) (plist-get route :model)
             (plist-get scope :level))
     (mapconcat (lambda (r) (format "- %s" r)) reasons "\n")
     (when estimate
       (format "\nestimate: %s in / %s out tokens, $%s"
               (plist-get estimate :input_tokens) (plist-get estimate :output_tokens)
               (plist-get estimate :cost_usd))))))

(defun hybrid-assist-explain-route (task)
  "Show where TASK at point would run (hybrid.explainRoute) and return the result."
  (interactive
   (list (completing-read "Task: " '("completion" "inline_completion" "explain" "docstring" "naming"
                                     "refactor" "tests" "fix" "review" "multi_file_refactor"
                                     "architecture" "documentation" "security" "migration"
                                     "performance" "api_integration")
                          nil nil nil nil "completion")))
  (let* ((pos (eglot--TextDocumentPositionParams))
         (result (hybrid-assist--command
                  "hybrid.explainRoute"
                  (list :uri (plist-get (plist-get pos :textDocument) :uri)
                        :position (plist-get pos :position)
                        :task task))))
    (when (called-interactively-p 'interactive)
      (with-help-window "*hybrid-assist route*"
        (princ (hybrid-assist--format-route result))))
    result))

(defun hybrid-assist-review (&optional scope)
  "Review this file (or SCOPE: \"diff\" or \"repository\") with hybrid.review.
Findings arrive as diagnostics (source hybrid-review, shown by Flymake);
returns the command's summary."
  (interactive)
  (let* ((scope (or scope "file"))
         (argument (if (equal scope "file")
                       (list :scope scope :uri (plist-get (eglot--TextDocumentIdentifier) :uri))
                     (list :scope scope)))
         (result (hybrid-assist--command "hybrid.review" argument)))
    (when (called-interactively-p 'interactive)
      (message "hybrid-assist review: %s"
               (or (plist-get result :error)
                   (format "%s finding(s)" (plist-get result :findings)))))
    result))

(defun hybrid-assist-status ()
  "Show hybrid.status and return it."
  (interactive)
  (let ((result (hybrid-assist--command "hybrid.status")))
    (when (called-interactively-p 'interactive)
      (with-help-window "*hybrid-assist status*"
        (pp result)))
    result))

(provide 'hybrid-assist)
;;; hybrid-assist.el ends here

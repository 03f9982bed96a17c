-- hybrid-assist for Neovim: registers `hybrid-assist lsp` (stdio) and adds :HybridExplainRoute / :HybridReview / :HybridStatus.
-- With `tcp = "host:port"` it connects to a shared `hybrid-assist lsp --tcp` server instead, sending the user's key
-- (from $HYBRID_ASSIST_KEY or `key_file`, never from the config) in initializationOptions.hybridAssist.key.
-- Neovim >= 0.11: vim.lsp.config + vim.lsp.enable. Older (0.7 .. 0.10): a FileType autocmd starts one
-- client per root directory with vim.lsp.start_client and attaches buffers to it.
local M = {}

M.name = "hybrid_assist"

M.defaults = {
  cmd = { "hybrid-assist", "lsp" },
  cmd_env = nil,
  filetypes = {
    "python", "javascript", "javascriptreact", "typescript", "typescriptreact",
    "go", "rust", "java", "c", "cpp", "ruby", "lua", "sh",
  },
  root_markers = { "hybrid-assist.toml", "pyproject.toml", "package.json", "go.mod", "Cargo.toml", ".git" },
  settings = {},
  init_options = nil,
  -- a shared server (`hybrid-assist lsp --tcp HOST:PORT`): "host:port"; nil = start `cmd` on stdio
  tcp = nil,
  -- the key a shared server asks for: this environment variable, else the first line of key_file
  key_env = "HYBRID_ASSIST_KEY",
  key_file = nil,
  -- ghost text through textDocument/inlineCompletion where Neovim has it (vim.lsp.inline_completion, 0.12+)
  inline_completion = true,
  -- Insert-mode key that accepts the ghost text (vim.lsp.inline_completion.get()); without ghost text the key
  -- does what it did before (its earlier mapping, e.g. 0.12's snippet jump, else a plain <Tab>). false: no mapping
  inline_accept = "<Tab>",
  -- vim.lsp.completion (0.11+): completion items from the server in the built-in completion menu
  completion = false,
  completion_autotrigger = false,
  -- omni-completion (<C-x><C-o>) through vim.lsp.omnifunc in attached buffers that have no omnifunc yet
  omnifunc = true,
  commands = true,
}

M.config = nil
M.last_result = nil

local has_011 = vim.fn.has("nvim-0.11") == 1

local function notify(msg, level)
  vim.notify("hybrid-assist: " .. msg, level or vim.log.levels.INFO)
end

local function all_clients()
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ name = M.name })
  end
  local out = {}
  for _, client in pairs(vim.lsp.get_active_clients()) do
    if client.name == M.name then
      table.insert(out, client)
    end
  end
  return out
end

--- The hybrid-assist client attached to `bufnr` (default: current buffer), or any running one.
function M.client(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local fallback = nil
  for _, client in ipairs(all_clients()) do
    if client.attached_buffers and client.attached_buffers[bufnr] then
      return client
    end
    fallback = fallback or client
  end
  return fallback
end

--- client:request / client.request across versions; returns ok, request_id.
function M.request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

function M.cancel(client, request_id)
  if has_011 then
    return client:cancel_request(request_id)
  end
  return client.cancel_request(request_id)
end

--- Synchronous request to the hybrid-assist client; returns result, err.
function M.request_sync(client, method, params, timeout_ms, bufnr)
  local done, result, err = false, nil, nil
  local ok = M.request(client, method, params, function(e, r)
    err, result, done = e, r, true
  end, bufnr)
  if not ok then
    return nil, { message = "request not sent: " .. method }
  end
  if not vim.wait(timeout_ms or 10000, function() return done end, 20) then
    return nil, { message = "timeout: " .. method }
  end
  return result, err
end

--- The user's key for a shared server: $<key_env>, else the first line of key_file; nil when neither has one.
function M.read_key(opts)
  opts = opts or M.config or M.defaults
  local value = opts.key_env and os.getenv(opts.key_env) or nil
  if value and vim.trim(value) ~= "" then
    return vim.trim(value)
  end
  if opts.key_file then
    local f = io.open(vim.fn.expand(opts.key_file), "r")
    if f then
      local line = f:read("*l")
      f:close()
      if line and vim.trim(line) ~= "" then
        return vim.trim(line)
      end
    else
      notify("cannot read key_file " .. opts.key_file, vim.log.levels.WARN)
    end
  end
  return nil
end

local SECTIONS = { "hybrid-assist", "hybridAssist", "hybrid_assist" }

--- initializationOptions with `key` under the hybridAssist section (flat settings are moved into it).
function M.init_options_with_key(init_options, key)
  local options = vim.deepcopy(init_options or {})
  if not key then
    return init_options
  end
  for _, name in ipairs(SECTIONS) do
    if type(options[name]) == "table" then
      options[name].key = key
      return options
    end
  end
  return { hybridAssist = vim.tbl_extend("force", options, { key = key }) }
end

--- The client's cmd and init_options: stdio `cmd`, or a TCP connection carrying the key.
local function connection(cfg)
  if not cfg.tcp then
    return cfg.cmd, cfg.init_options
  end
  local host, port = cfg.tcp:match("^%[?([^%]]*)%]?:(%d+)$")
  if not port then
    notify("tcp: expected \"host:port\", got " .. tostring(cfg.tcp), vim.log.levels.ERROR)
    return cfg.cmd, cfg.init_options
  end
  host = (host == nil or host == "") and "127.0.0.1" or host
  if vim.lsp.rpc.connect then
    return vim.lsp.rpc.connect(host, tonumber(port)), M.init_options_with_key(cfg.init_options, M.read_key(cfg))
  end
  -- Neovim 0.7 has no vim.lsp.rpc.connect: `hybrid-assist connect` relays stdio and adds the key itself
  local cmd = { cfg.cmd[1], "connect", "tcp://" .. host .. ":" .. port, "--key-env", cfg.key_env or "" }
  if cfg.key_file then
    vim.list_extend(cmd, { "--key-file", vim.fn.expand(cfg.key_file) })
  end
  return cmd, cfg.init_options
end

local function position_params(client, bufnr)
  local win = vim.api.nvim_get_current_win()
  local params = vim.lsp.util.make_position_params(win, client.offset_encoding or "utf-16")
  params.textDocument = { uri = vim.uri_from_bufnr(bufnr) }
  return params
end

--- workspace/executeCommand `command` for the current buffer, with one argument built by
--- `make_argument(client, bufnr)`; warns when the server is not running for the buffer. The result is kept in
--- M.last_result and goes to `callback(result, err)` when given; otherwise an error is notified and a result
--- goes to `show(result)`.
local function buffer_command(command, make_argument, callback, show)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    notify("the server is not running for this buffer", vim.log.levels.WARN)
    return
  end
  local params = { command = command, arguments = { make_argument(client, bufnr) } }
  M.request(client, "workspace/executeCommand", params, function(err, result)
    M.last_result = result
    if callback then
      return callback(result, err)
    end
    if err then
      local name = command:gsub("^hybrid%.", "")
      notify(name .. " failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    show(result)
  end, bufnr)
end

--- workspace/executeCommand hybrid.explainRoute at the cursor. `callback(result, err)`; without it the
--- result is shown in a floating window.
function M.explain_route(task, callback)
  task = (task and task ~= "") and task or "completion"
  buffer_command("hybrid.explainRoute", function(client, bufnr)
    local pos = position_params(client, bufnr)
    return { uri = pos.textDocument.uri, position = pos.position, task = task }
  end, callback, function(result)
    M.show_route(result)
  end)
end

--- Markdown lines describing an explainRoute result.
function M.format_route(result)
  local lines = {}
  if type(result) ~= "table" then
    return { "no route" }
  end
  local route = result.route or {}
  local scope = result.scope or {}
  local estimate = result.estimate or {}
  table.insert(lines, string.format("**%s** → **%s** (%s)", tostring(result.task or "?"),
    tostring(route.target or "?"), tostring(route.model or "?")))
  table.insert(lines, "scope: " .. tostring(scope.level or "?"))
  if type(route.reasons) == "table" then
    table.insert(lines, "reasons:")
    for _, reason in ipairs(route.reasons) do
      table.insert(lines, "- " .. tostring(reason))
    end
  end
  if type(estimate) == "table" and estimate.input_tokens then
    table.insert(lines, string.format("estimate: %s in / %s out tokens, $%s", tostring(estimate.input_tokens),
      tostring(estimate.output_tokens), tostring(estimate.cost_usd)))
  end
  return lines
end

function M.show_route(result)
  local lines = M.format_route(result)
  if #vim.api.nvim_list_uis() == 0 then
    print(table.concat(lines, "\n"))
    return
  end
  vim.lsp.util.open_floating_preview(lines, "markdown", { border = "rounded", focus_id = "hybrid_assist_route" })
end

--- :HybridReview [file|diff|repository]: workspace/executeCommand hybrid.review. Findings arrive as
--- diagnostics (source "hybrid-review") with quick fixes; `callback(result, err)` gets the summary.
function M.review(scope, callback)
  scope = (scope and scope ~= "") and scope or "file"
  buffer_command("hybrid.review", function(_, bufnr)
    local argument = { scope = scope }
    if scope == "file" then
      argument.uri = vim.uri_from_bufnr(bufnr)
    end
    return argument
  end, callback, function(result)
    if type(result) == "table" and result.error then
      notify("review: " .. tostring(result.error), vim.log.levels.WARN)
    elseif type(result) == "table" then
      notify(string.format("review: %s finding(s)", tostring(result.findings or 0)), vim.log.levels.INFO)
    end
  end)
end

--- Neovim < 0.11: vim.lsp.omnifunc inserts an item's text with complete(), where a line break becomes a NUL;
--- once the completion is done, the lines of a multi-line item are put back as lines.
local function restore_line_breaks(bufnr)
  local done = vim.v.completed_item
  local data = type(done) == "table" and done.user_data or nil
  local lsp = type(data) == "table" and type(data.nvim) == "table" and data.nvim.lsp or nil
  local word = type(done) == "table" and done.word or nil
  if type(lsp) ~= "table" or lsp.completion_item == nil or type(word) ~= "string" or not word:find("\n", 1, true) then
    return
  end
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  local start = col - #word
  vim.schedule(function()
    local line = vim.api.nvim_buf_get_lines(bufnr, row - 1, row, false)[1] or ""
    if start < 0 or line:sub(start + 1, col) ~= word:gsub("\n", "\0") then -- not the inserted text: leave it
      return
    end
    local lines = vim.split(word, "\n", true)
    vim.api.nvim_buf_set_text(bufnr, row - 1, start, row - 1, col, lines)
    pcall(vim.api.nvim_win_set_cursor, 0, { row + #lines - 1, #lines[#lines] })
  end)
end

local ACCEPT_DESC = "hybrid-assist: accept the inline completion"

M._fallbacks = {} -- callbacks of the non-expr mappings the accept key shadows, called through <Cmd>

--- What `key` did in Insert mode in `bufnr` before the accept mapping (the buffer's mapping, else the global
--- one, else the key itself), as a function returning the keys an expr mapping returns.
local function previous_keys(bufnr, key)
  local prev = vim.api.nvim_buf_call(bufnr, function()
    return vim.fn.maparg(key, "i", false, true)
  end)
  local raw = vim.api.nvim_replace_termcodes(key, true, false, true)
  if type(prev) ~= "table" or vim.tbl_isempty(prev) then
    return function() return raw end
  end
  -- the keys as an expr mapping hands them back; a remapping (noremap = 0) mapping's keys are fed to be mapped
  local function keys_of(text, replace)
    text = replace and vim.api.nvim_replace_termcodes(text or "", true, false, true) or (text or "")
    if prev.noremap == 0 and text ~= "" then
      vim.api.nvim_feedkeys(text, "im", false)
      return ""
    end
    return text
  end
  if prev.callback and prev.expr == 1 then
    return function() return keys_of(prev.callback(), prev.replace_keycodes == 1) end
  elseif prev.callback then
    table.insert(M._fallbacks, prev.callback)
    local call = string.format("<Cmd>lua require('hybrid_assist')._fallbacks[%d]()<CR>", #M._fallbacks)
    return function() return vim.api.nvim_replace_termcodes(call, true, false, true) end
  elseif prev.expr == 1 then
    return function() return keys_of(vim.api.nvim_eval(prev.rhs), false) end
  end
  return function() return keys_of(prev.rhs, true) end
end

--- The (row, col) pair of a vim.Pos (0-based), or nil when it has another shape.
local function pos_of(pos)
  if type(pos) == "table" and type(pos.row) == "number" and type(pos.col) == "number" then
    return pos.row, pos.col
  end
  return nil
end

--- Accepts an inline completion `item` (vim.lsp.inline_completion.Item) as Neovim 0.12 does, except when the
--- user typed on after the suggestion arrived and before it was refreshed: Neovim's ghost text then leaves out
--- the typed start of the suggestion, and the typed text is replaced with the suggestion instead of being kept
--- after it (`r` + accept gives `return a + b`, not `return a + br`).
local function accept_inline(bufnr, item)
  local text, range = item.insert_text, item.range
  local win = vim.fn.bufwinid(bufnr)
  local srow, scol = pos_of(range and range.start)
  local erow, ecol = pos_of(range and range.end_)
  if type(text) == "table" then
    vim.snippet.expand(text.value)
  elseif srow == nil or erow == nil or win == -1 then
    vim.api.nvim_paste(text, false, -1)
  else
    local row, col = unpack(vim.api.nvim_win_get_cursor(win))
    local line = vim.api.nvim_buf_get_lines(bufnr, row - 1, row, false)[1] or ""
    if row - 1 == erow and srow == erow and col > ecol and vim.startswith(text, line:sub(scol + 1, col)) then
      ecol = col
    end
    local lines = vim.split(text, "\n", { plain = true })
    vim.api.nvim_buf_set_text(bufnr, srow, scol, erow, ecol, lines)
    vim.api.nvim_win_set_cursor(win, { srow + #lines, (#lines == 1 and scol or 0) + #lines[#lines] })
  end
  local client = item.command and vim.lsp.get_client_by_id(item.client_id)
  if client then -- the command runs after the text is in (the server counts the acceptance)
    client:exec_cmd(item.command, { bufnr = bufnr })
  end
end

--- Neovim 0.12+: a buffer-local Insert-mode mapping of `key` that accepts the shown inline completion
--- (vim.lsp.inline_completion.get(), as its documentation suggests) and otherwise falls back to the key's
--- earlier meaning.
local function map_inline_accept(bufnr, key)
  local existing = vim.api.nvim_buf_call(bufnr, function()
    return vim.fn.maparg(key, "i", false, true)
  end)
  if type(existing) == "table" and existing.desc == ACCEPT_DESC and existing.buffer == 1 then
    return -- mapped at an earlier attach
  end
  local fallback = previous_keys(bufnr, key)
  vim.keymap.set("i", key, function()
    if vim.lsp.inline_completion.get({ bufnr = bufnr, on_accept = function(item) accept_inline(bufnr, item) end }) then
      return ""
    end
    return fallback()
  end, { buffer = bufnr, expr = true, replace_keycodes = false, silent = true, desc = ACCEPT_DESC })
end

local function on_attach(client, bufnr)
  local opts = M.config or M.defaults
  if opts.omnifunc and vim.bo[bufnr].omnifunc == "" then -- <C-x><C-o> asks the server (0.7 does not set it)
    vim.bo[bufnr].omnifunc = "v:lua.vim.lsp.omnifunc"
  end
  local omni = opts.omnifunc and vim.bo[bufnr].omnifunc == "v:lua.vim.lsp.omnifunc"
  if (opts.completion or omni) and vim.lsp.completion and vim.lsp.completion.enable then
    -- 0.11+: accepting an item (<C-y>) inserts its whole text, not only its first word
    pcall(vim.lsp.completion.enable, true, client.id, bufnr, { autotrigger = opts.completion_autotrigger })
  elseif omni then
    vim.api.nvim_create_autocmd("CompleteDone", {
      group = vim.api.nvim_create_augroup("hybrid_assist_omni_" .. bufnr, { clear = true }),
      buffer = bufnr,
      callback = function() restore_line_breaks(bufnr) end,
    })
  end
  if opts.inline_completion and vim.lsp.inline_completion and vim.lsp.inline_completion.enable then
    pcall(vim.lsp.inline_completion.enable, true, { bufnr = bufnr })
    if opts.inline_accept then
      map_inline_accept(bufnr, opts.inline_accept)
    end
  end
  if opts.on_attach then
    opts.on_attach(client, bufnr)
  end
end

local function find_root(path, markers)
  local dir = vim.fn.fnamemodify(path, ":p:h")
  while dir and dir ~= "" do
    for _, marker in ipairs(markers) do
      if vim.loop.fs_stat(dir .. "/" .. marker) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ":h")
    if parent == dir then
      break
    end
    dir = parent
  end
  return nil
end

local legacy_clients = {} -- root_dir -> client id (Neovim < 0.11)

local function legacy_start(bufnr)
  local opts = M.config
  local path = vim.api.nvim_buf_get_name(bufnr)
  if path == "" or vim.bo[bufnr].buftype ~= "" then
    return
  end
  local root = find_root(path, opts.root_markers) or vim.fn.fnamemodify(path, ":p:h")
  local id = legacy_clients[root]
  if id and vim.lsp.get_client_by_id(id) and not vim.lsp.get_client_by_id(id).is_stopped() then
    vim.lsp.buf_attach_client(bufnr, id)
    return id
  end
  local cmd, init_options = connection(opts)
  id = vim.lsp.start_client({
    name = M.name,
    cmd = cmd,
    cmd_env = opts.cmd_env,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    settings = opts.settings,
    init_options = init_options,
    on_attach = on_attach,
  })
  if id then
    legacy_clients[root] = id
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

local function add_commands()
  vim.api.nvim_create_user_command("HybridExplainRoute", function(args)
    M.explain_route(args.args)
  end, {
    nargs = "?",
    desc = "hybrid-assist: where a task at the cursor would run, and why",
    complete = function()
      return {
        "completion", "inline_completion", "explain", "docstring", "naming", "refactor", "tests", "fix",
        "review", "multi_file_refactor", "architecture", "documentation", "security", "migration",
        "performance", "api_integration",
      }
    end,
  })
  vim.api.nvim_create_user_command("HybridReview", function(args)
    M.review(args.args)
  end, {
    nargs = "?",
    desc = "hybrid-assist: review this file, the git diff or the repository (findings as diagnostics)",
    complete = function()
      return { "file", "diff", "repository" }
    end,
  })
  vim.api.nvim_create_user_command("HybridStatus", function()
    local client = M.client(0)
    if not client then
      notify("the server is not running", vim.log.levels.WARN)
      return
    end
    M.request(client, "workspace/executeCommand", { command = "hybrid.status", arguments = {} }, function(err, result)
      M.last_result = result
      print(err and vim.inspect(err) or vim.inspect(result))
    end, vim.api.nvim_get_current_buf())
  end, { desc = "hybrid-assist: server status" })
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", {}, M.defaults, opts or {})
  local cfg = M.config
  if has_011 and vim.lsp.config and vim.lsp.enable then
    local cmd, init_options = connection(cfg)
    vim.lsp.config(M.name, {
      cmd = cmd,
      cmd_env = cfg.cmd_env,
      filetypes = cfg.filetypes,
      root_markers = cfg.root_markers,
      settings = cfg.settings,
      init_options = init_options,
      on_attach = on_attach,
    })
    vim.lsp.enable(M.name)
  else
    local group = vim.api.nvim_create_augroup("hybrid_assist", { clear = true })
    vim.api.nvim_create_autocmd("FileType", {
      group = group,
      pattern = cfg.filetypes,
      callback = function(args)
        legacy_start(args.buf)
      end,
    })
  end
  if cfg.commands then
    add_commands()
  end
end

return M

-- Driven by tests/editors/test_nvim.py: opens $HA_FILE, exercises the hybrid-assist client, writes JSON to $HA_OUT.
local out_path = os.getenv("HA_OUT")
local mode = os.getenv("HA_MODE") or "features"
local results = { version = tostring(vim.version().major) .. "." .. tostring(vim.version().minor) .. "." .. tostring(vim.version().patch) }
local ha = require("hybrid_assist")

local function finish()
  local f = io.open(out_path, "w")
  f:write(vim.fn.json_encode(results))
  f:close()
  for _, client in ipairs(vim.lsp.get_active_clients and vim.lsp.get_active_clients() or vim.lsp.get_clients()) do
    pcall(function()
      if vim.fn.has("nvim-0.11") == 1 then client:stop(true) else client.stop(true) end
    end)
  end
  vim.cmd("qall!")
end

local function run()
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("HA_FILE")))
  local bufnr = vim.api.nvim_get_current_buf()
  results.filetype = vim.bo[bufnr].filetype
  local client
  local ready = vim.wait(tonumber(os.getenv("HA_WAIT_MS") or "30000"), function()
    client = ha.client(bufnr)
    return client ~= nil and client.initialized and client.attached_buffers and client.attached_buffers[bufnr] ~= nil
  end, 50)
  results.attached = ready
  if not ready then
    return
  end
  results.root_dir = client.config.root_dir
  -- 0.11+: started by vim.lsp.enable(); older: by the plugin's FileType autocmd
  results.enabled_config = vim.lsp.is_enabled ~= nil and vim.lsp.is_enabled(ha.name)
  local has_group, autocmds = pcall(vim.api.nvim_get_autocmds, { group = "hybrid_assist" })
  results.legacy_autocmd = has_group and #autocmds > 0
  results.has_inline_api = vim.lsp.inline_completion ~= nil
  if vim.lsp.inline_completion and vim.lsp.inline_completion.is_enabled then
    results.inline_enabled = vim.lsp.inline_completion.is_enabled({ bufnr = bufnr })
  end
  local uri = vim.uri_from_bufnr(bufnr)
  local doc = { uri = uri }

  if mode == "status" then
    local status, err = ha.request_sync(client, "workspace/executeCommand", { command = "hybrid.status", arguments = {} }, 10000, bufnr)
    results.status_model = status and status["local"] and status["local"].model or nil
    results.status_budget = status and status.budget and status.budget.limit_usd or nil
    results.status_error = err and err.message or nil
    return
  end

  if mode == "omni" then
    -- $HA_LINE (1-based) ends with the typed prefix: the server's answer through Neovim's own filter, then
    -- omni-completion (<C-x><C-o>, the plugin's omnifunc) accepted in the buffer
    local lnum = tonumber(os.getenv("HA_LINE"))
    local line = vim.api.nvim_buf_get_lines(bufnr, lnum - 1, lnum, false)[1]
    results.omnifunc = vim.bo[bufnr].omnifunc
    local encoding = client.offset_encoding or "utf-16"
    results.offset_encoding = encoding
    local character = #line -- the end of the line, in the encoding's units
    if encoding ~= "utf-8" and vim.fn.has("nvim-0.11") == 1 then
      character = vim.str_utfindex(line, encoding)
    elseif encoding ~= "utf-8" then
      local utf32, utf16 = vim.str_utfindex(line)
      character = encoding == "utf-16" and utf16 or utf32
    end
    local response, err = ha.request_sync(client, "textDocument/completion", {
      textDocument = doc, position = { line = lnum - 1, character = character },
    }, 15000, bufnr)
    results.completion_error = err and err.message or nil
    results.prefix = line:sub(vim.fn.match(line, "\\k*$") + 1)
    local to_items = vim.lsp.util.text_document_completion_list_to_complete_items
    if to_items == nil then -- removed after 0.11: the same filter lives in vim.lsp.completion
      to_items = function(result, prefix) return vim.lsp.completion._lsp_to_complete_items(result, prefix) end
    end
    results.kept = {}
    for _, match in ipairs(to_items(response or {}, results.prefix)) do table.insert(results.kept, match.word) end
    vim.api.nvim_win_set_cursor(0, { lnum, #line })
    vim.o.completeopt = "menuone,noinsert" -- the menu shows the item; <C-y> accepts it
    local started = vim.loop.now()
    local timer = vim.loop.new_timer()
    timer:start(50, 50, vim.schedule_wrap(function()
      local shown = vim.fn.pumvisible() == 1
      if shown or vim.loop.now() - started > 15000 then
        timer:stop()
        results.menu_shown = shown
        local keys = shown and "<C-y>" or ""
        vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), "n", false)
        vim.defer_fn(function()
          vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<Esc>", true, false, true), "n", false)
        end, 300)
      end
    end))
    -- 'x!': run the keys and stay in Insert mode until the timer leaves it (the answer arrives meanwhile)
    vim.fn.feedkeys(vim.api.nvim_replace_termcodes("A<C-x><C-o>", true, false, true), "x!")
    vim.wait(200)
    results.line_after = vim.api.nvim_buf_get_lines(bufnr, lnum - 1, lnum, false)[1]
    results.lines_after = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
    return
  end

  if mode == "ghost" then
    -- Insert mode at the end of $HA_LINE: <Tab> at once (no suggestion yet: the key keeps its meaning), then,
    -- once vim.lsp.inline_completion (0.12+) shows the ghost text, <Tab> again accepts it into the buffer
    local lnum = tonumber(os.getenv("HA_LINE"))
    local function line() return vim.api.nvim_buf_get_lines(bufnr, lnum - 1, lnum, false)[1] end
    local function ghost() -- the text of the inline completion's extmarks (virtual text and lines), or nil
      local ns = vim.api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
      local marks = ns and vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true }) or {}
      if #marks == 0 then return nil end
      local parts = {}
      for _, chunk in ipairs(marks[1][4].virt_text or {}) do table.insert(parts, chunk[1]) end
      for _, virt_line in ipairs(marks[1][4].virt_lines or {}) do
        table.insert(parts, "\n")
        for _, chunk in ipairs(virt_line) do table.insert(parts, chunk[1]) end
      end
      return table.concat(parts)
    end
    local caps = client.server_capabilities or client.resolved_capabilities or {}
    results.inline_provider = caps.inlineCompletionProvider ~= nil
    local tab = vim.fn.maparg("<Tab>", "i", false, true)
    results.tab_mapping = type(tab) == "table" and tab.desc or nil
    vim.api.nvim_win_set_cursor(0, { lnum, 0 })
    local started, accepted = vim.loop.now(), false
    local timer = vim.loop.new_timer()
    local function leave()
      timer:stop()
      vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<Esc>", true, false, true), "n", false)
    end
    timer:start(20, 20, vim.schedule_wrap(function()
      if accepted then return end
      results.line_before = results.line_before or line() -- after the first <Tab>
      local text = ghost()
      if text then
        accepted = true
        results.ghost, results.ghost_line = text, line()
        -- $HA_TYPED: typed on before <Tab>, faster than the suggestion is refreshed
        local keys = (os.getenv("HA_TYPED") or "") .. "<Tab>"
        vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), "m", false)
        vim.defer_fn(function() results.line_accepted = line(); leave() end, 100)
      elseif vim.lsp.inline_completion == nil or vim.loop.now() - started > 15000 then
        leave()
      end
    end))
    vim.fn.feedkeys(vim.api.nvim_replace_termcodes("A<Tab>", true, false, true), "x!")
    results.line_after = line()
    -- the item's command (hybrid.completionAccepted) ran after the text went in: the server counted it
    vim.wait(results.ghost and 5000 or 0, function()
      local status = ha.request_sync(client, "workspace/executeCommand", { command = "hybrid.status", arguments = {} }, 5000, bufnr)
      results.accepted = status and status.completions and status.completions.accepted or nil
      return (results.accepted or 0) >= 1
    end, 50)
    return
  end

  if mode == "cancel" then
    local function aborted()
      local status = ha.request_sync(client, "workspace/executeCommand", { command = "hybrid.status", arguments = {} }, 10000, bufnr)
      return status and status["local"] and status["local"].aborted_total or -1
    end
    results.aborted_before = aborted()
    local got = { called = false }
    local ok, id = ha.request(client, "textDocument/inlineCompletion", {
      textDocument = doc, position = { line = 1, character = 4 }, context = { triggerKind = 1 },
    }, function(err, result) got.called, got.err, got.result = true, err, result end, bufnr)
    results.sent = ok
    vim.wait(800)
    ha.cancel(client, id)
    vim.wait(5000, function() return got.called end, 20)
    results.handler_called = got.called
    results.cancel_error = got.err and got.err.code or nil
    local n = 0
    vim.wait(10000, function() n = aborted(); return n >= 1 end, 100)
    results.aborted_after = n
    return
  end

  -- completion
  local comp = vim.lsp.buf_request_sync(bufnr, "textDocument/completion", { textDocument = doc, position = { line = 1, character = 4 } }, 15000)
  local items = {}
  for _, r in pairs(comp or {}) do
    local res = r.result or {}
    for _, item in ipairs(res.items or res) do table.insert(items, item.insertText or item.label) end
  end
  results.completion = items
  -- inline completion
  local inline, ierr = ha.request_sync(client, "textDocument/inlineCompletion", {
    textDocument = doc, position = { line = 1, character = 4 }, context = { triggerKind = 1 },
  }, 15000, bufnr)
  results.inline_error = ierr and ierr.message or nil
  results.inline = {}
  if inline then
    for _, item in ipairs(inline.items or inline) do
      table.insert(results.inline, type(item.insertText) == "table" and item.insertText.value or item.insertText)
    end
  end
  -- hover
  local hover = vim.lsp.buf_request_sync(bufnr, "textDocument/hover", { textDocument = doc, position = { line = 0, character = 5 } }, 15000)
  for _, r in pairs(hover or {}) do
    if r.result and r.result.contents then results.hover = r.result.contents.value or r.result.contents end
  end
  -- code action + resolve
  local rng = { start = { line = 0, character = 0 }, ["end"] = { line = 1, character = 4 } }
  local actions = ha.request_sync(client, "textDocument/codeAction", {
    textDocument = doc, range = rng,
    context = { diagnostics = { { range = rng, message = "undefined name 'c'", severity = 1 } } },
  }, 15000, bufnr) or {}
  results.action_titles = {}
  local target
  for _, a in ipairs(actions) do
    table.insert(results.action_titles, a.title)
    if a.title:find("refactor the selection", 1, true) then target = a end
  end
  results.actions_have_edit = false
  for _, a in ipairs(actions) do if a.edit then results.actions_have_edit = true end end
  if target then
    local resolved, rerr = ha.request_sync(client, "codeAction/resolve", target, 15000, bufnr)
    results.resolved_title = resolved and resolved.title or nil
    results.resolve_error = rerr and rerr.message or nil
  end
  -- :HybridExplainRoute completion (the command), then the Lua API with a callback
  vim.api.nvim_win_set_cursor(0, { 2, 4 })
  ha.last_result = nil
  vim.cmd("HybridExplainRoute completion")
  vim.wait(15000, function() return ha.last_result ~= nil end, 20)
  results.explain = ha.last_result
  results.explain_lines = ha.format_route(ha.last_result)
  ha.last_result = nil
  vim.cmd("HybridReview")
  vim.wait(15000, function() return ha.last_result ~= nil end, 20)
  results.review = ha.last_result
end

local ok, err = pcall(run)
if not ok then
  results.lua_error = tostring(err)
end
finish()

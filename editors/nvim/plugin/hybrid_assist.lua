-- hybrid-assist: nothing starts until require("hybrid_assist").setup() is called (lazy.nvim: `opts = {}`).
if vim.g.loaded_hybrid_assist then
  return
end
vim.g.loaded_hybrid_assist = 1

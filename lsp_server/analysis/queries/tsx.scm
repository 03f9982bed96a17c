; TSX: the TypeScript queries (JSX elements reference identifiers like any other).
; inherits: typescript

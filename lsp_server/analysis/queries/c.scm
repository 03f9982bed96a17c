; C: definitions (including prototypes and macros), #include, bindings and references.
; Declarations inside function bodies are dropped by the extractor (locals).

;; section: tags
(function_definition declarator: (function_declarator declarator: (identifier) @name)) @definition.function
(function_definition declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))) @definition.function
(declaration declarator: (function_declarator declarator: (identifier) @name)) @definition.function
(declaration declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))) @definition.function
(struct_specifier name: (type_identifier) @name body: (_)) @definition.type
(union_specifier name: (type_identifier) @name body: (_)) @definition.type
(enum_specifier name: (type_identifier) @name body: (_)) @definition.type
(type_definition declarator: (type_identifier) @name) @definition.type
(preproc_def name: (identifier) @name) @definition.constant
(preproc_function_def name: (identifier) @name) @definition.function
(declaration declarator: (init_declarator declarator: (identifier) @name)) @definition.constant
(declaration declarator: (identifier) @name) @definition.constant
(enumerator name: (identifier) @name) @definition.constant
(preproc_include) @import

;; section: locals
(function_declarator declarator: (identifier) @binding)
(parameter_declaration declarator: (identifier) @binding)
(parameter_declaration declarator: (pointer_declarator declarator: (identifier) @binding))
(parameter_declaration declarator: (array_declarator declarator: (identifier) @binding))
(init_declarator declarator: (identifier) @binding)
(init_declarator declarator: (pointer_declarator declarator: (identifier) @binding))
(declaration declarator: (identifier) @binding)
(declaration declarator: (pointer_declarator declarator: (identifier) @binding))
(declaration declarator: (array_declarator declarator: (identifier) @binding))
(type_definition declarator: (type_identifier) @binding)
(struct_specifier name: (type_identifier) @binding)
(enum_specifier name: (type_identifier) @binding)
(union_specifier name: (type_identifier) @binding)
(enumerator name: (identifier) @binding)
(preproc_def name: (identifier) @binding)
(preproc_function_def name: (identifier) @binding)
(preproc_params (identifier) @binding)
(labeled_statement label: (statement_identifier) @binding)
(preproc_include) @import

;; section: references
(function_definition declarator: (function_declarator declarator: (identifier) @reference.ignore))
(preproc_include) @reference.ignore
(identifier) @reference
(type_identifier) @reference

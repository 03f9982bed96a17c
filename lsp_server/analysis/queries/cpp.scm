; C++: the C queries plus classes, namespaces, methods and qualified names.
; inherits: c

;; section: tags
(template_declaration) @wrapper
(class_specifier name: (type_identifier) @name body: (_)) @definition.class
(struct_specifier name: (type_identifier) @name body: (_)) @definition.class
(namespace_definition name: (namespace_identifier) @name) @definition.module
(field_declaration_list (function_definition declarator: (function_declarator declarator: (field_identifier) @name)) @definition.method)
(field_declaration_list (field_declaration declarator: (function_declarator declarator: (field_identifier) @name)) @definition.method)
(function_definition declarator: (function_declarator declarator: (qualified_identifier name: (identifier) @name))) @definition.method
(alias_declaration name: (type_identifier) @name) @definition.type

;; section: locals
(class_specifier name: (type_identifier) @binding)
(namespace_definition name: (namespace_identifier) @binding)
(alias_declaration name: (type_identifier) @binding)
(function_declarator declarator: (field_identifier) @binding)
(field_declaration declarator: (field_identifier) @binding)
(reference_declarator (identifier) @binding)
(optional_parameter_declaration declarator: (identifier) @binding)
(for_range_loop declarator: (identifier) @binding)
(type_parameter_declaration (type_identifier) @binding)
(lambda_capture_specifier (identifier) @binding)

;; section: references
(class_specifier name: (type_identifier) @reference.ignore)
(qualified_identifier) @reference.path
(namespace_identifier) @reference

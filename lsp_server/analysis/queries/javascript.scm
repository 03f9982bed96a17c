; JavaScript (also JSX): definitions, imports, bindings and references.

;; section: tags
(export_statement) @wrapper
(lexical_declaration) @wrapper
(variable_declaration) @wrapper
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(class_declaration name: (_) @name) @definition.class
(method_definition name: (property_identifier) @name) @definition.method
(program (lexical_declaration (variable_declarator name: (identifier) @name) @definition.constant))
(program (variable_declaration (variable_declarator name: (identifier) @name) @definition.constant))
(program (export_statement declaration: (lexical_declaration (variable_declarator name: (identifier) @name) @definition.constant)))
(program (export_statement declaration: (variable_declaration (variable_declarator name: (identifier) @name) @definition.constant)))
(import_statement) @import
(export_statement source: (_)) @import
(program (lexical_declaration (variable_declarator value: (call_expression function: (identifier) @_req (#eq? @_req "require")))) @import)
(program (variable_declaration (variable_declarator value: (call_expression function: (identifier) @_req (#eq? @_req "require")))) @import)
(export_statement) @export

;; section: locals
(function_declaration name: (identifier) @binding)
(generator_function_declaration name: (identifier) @binding)
(function_expression name: (identifier) @binding)
(class_declaration name: (_) @binding)
(variable_declarator name: (identifier) @binding)
(variable_declarator name: (object_pattern (shorthand_property_identifier_pattern) @binding))
(variable_declarator name: (array_pattern (identifier) @binding))
(object_pattern (pair_pattern value: (identifier) @binding))
(formal_parameters (identifier) @binding)
(formal_parameters (assignment_pattern left: (identifier) @binding))
(formal_parameters (rest_pattern (identifier) @binding))
(formal_parameters (object_pattern (shorthand_property_identifier_pattern) @binding))
(arrow_function parameter: (identifier) @binding)
(catch_clause parameter: (identifier) @binding)
(for_in_statement left: (identifier) @binding)
(import_statement) @import
(lexical_declaration (variable_declarator value: (call_expression function: (identifier) @_req (#eq? @_req "require")))) @import
(variable_declaration (variable_declarator value: (call_expression function: (identifier) @_req (#eq? @_req "require")))) @import

;; section: references
(function_declaration name: (identifier) @reference.ignore)
(generator_function_declaration name: (identifier) @reference.ignore)
(class_declaration name: (_) @reference.ignore)
(member_expression
  object: (identifier) @reference.object
  property: (property_identifier) @reference.member)
(import_statement) @reference.ignore
(export_statement source: (_)) @reference.ignore
(identifier) @reference
(shorthand_property_identifier) @reference

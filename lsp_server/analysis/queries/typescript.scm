; TypeScript: definitions, imports, bindings and references (JavaScript forms plus types,
; interfaces, enums and namespaces).

;; section: tags
(export_statement) @wrapper
(lexical_declaration) @wrapper
(variable_declaration) @wrapper
(ambient_declaration) @wrapper
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
(function_signature name: (identifier) @name) @definition.function
(abstract_class_declaration name: (type_identifier) @name) @definition.class
(interface_declaration name: (type_identifier) @name) @definition.type
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.type
(internal_module name: (identifier) @name) @definition.module
(abstract_method_signature name: (property_identifier) @name) @definition.method
(import_alias) @import

;; section: locals
(function_declaration name: (identifier) @binding)
(generator_function_declaration name: (identifier) @binding)
(function_expression name: (identifier) @binding)
(class_declaration name: (_) @binding)
(variable_declarator name: (identifier) @binding)
(variable_declarator name: (object_pattern (shorthand_property_identifier_pattern) @binding))
(variable_declarator name: (array_pattern (identifier) @binding))
(object_pattern (pair_pattern value: (identifier) @binding))
(arrow_function parameter: (identifier) @binding)
(catch_clause parameter: (identifier) @binding)
(for_in_statement left: (identifier) @binding)
(import_statement) @import
(lexical_declaration (variable_declarator value: (call_expression function: (identifier) @_req (#eq? @_req "require")))) @import
(variable_declaration (variable_declarator value: (call_expression function: (identifier) @_req (#eq? @_req "require")))) @import
(abstract_class_declaration name: (type_identifier) @binding)
(interface_declaration name: (type_identifier) @binding)
(type_alias_declaration name: (type_identifier) @binding)
(enum_declaration name: (identifier) @binding)
(internal_module name: (identifier) @binding)
(type_parameter name: (type_identifier) @binding)
(required_parameter pattern: (identifier) @binding)
(optional_parameter pattern: (identifier) @binding)
(function_signature name: (identifier) @binding)
(required_parameter pattern: (rest_pattern (identifier) @binding))
(required_parameter pattern: (object_pattern (shorthand_property_identifier_pattern) @binding))
(assignment_pattern left: (identifier) @binding)

;; section: references
(function_declaration name: (identifier) @reference.ignore)
(generator_function_declaration name: (identifier) @reference.ignore)
(class_declaration name: (_) @reference.ignore)
(abstract_class_declaration name: (_) @reference.ignore)
(interface_declaration name: (_) @reference.ignore)
(type_alias_declaration name: (_) @reference.ignore)
(enum_declaration name: (_) @reference.ignore)
(function_signature name: (_) @reference.ignore)
(member_expression
  object: (identifier) @reference.object
  property: (property_identifier) @reference.member)
(import_statement) @reference.ignore
(export_statement source: (_)) @reference.ignore
(identifier) @reference
(shorthand_property_identifier) @reference
(nested_type_identifier
  module: (identifier) @reference.object
  name: (type_identifier) @reference.member)
(type_identifier) @reference

; Java: definitions, imports, bindings and references.

;; section: tags
(package_declaration (_) @package)
(class_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.type
(record_declaration name: (identifier) @name) @definition.class
(annotation_type_declaration name: (identifier) @name) @definition.type
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(field_declaration declarator: (variable_declarator name: (identifier) @name)) @definition.constant
(import_declaration) @import

;; section: locals
(class_declaration name: (identifier) @binding)
(interface_declaration name: (identifier) @binding)
(enum_declaration name: (identifier) @binding)
(record_declaration name: (identifier) @binding)
(enum_constant name: (identifier) @binding)
(method_declaration name: (identifier) @binding)
(variable_declarator name: (identifier) @binding)
(formal_parameter name: (identifier) @binding)
(spread_parameter (variable_declarator name: (identifier) @binding))
(catch_formal_parameter name: (identifier) @binding)
(enhanced_for_statement name: (identifier) @binding)
(lambda_expression parameters: (identifier) @binding)
(inferred_parameters (identifier) @binding)
(type_parameter (type_identifier) @binding)
(import_declaration) @import

;; section: references
(class_declaration name: (identifier) @reference.ignore)
(interface_declaration name: (identifier) @reference.ignore)
(enum_declaration name: (identifier) @reference.ignore)
(record_declaration name: (identifier) @reference.ignore)
(method_declaration name: (identifier) @reference.ignore)
(constructor_declaration name: (identifier) @reference.ignore)
(method_invocation
  object: (identifier) @reference.object
  name: (identifier) @reference.member)
(field_access
  object: (identifier) @reference.object
  field: (identifier) @reference.member)
(method_invocation object: (_) name: (identifier) @reference.ignore)
(field_access field: (identifier) @reference.ignore)
(import_declaration) @reference.ignore
(package_declaration) @reference.ignore
(identifier) @reference
(type_identifier) @reference

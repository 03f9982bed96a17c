; C#: definitions, using directives, namespaces, bindings and references.

;; section: tags
(namespace_declaration name: (_) @package)
(file_scoped_namespace_declaration name: (_) @package)
(class_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(struct_declaration name: (identifier) @name) @definition.type
(interface_declaration name: (identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.type
(delegate_declaration name: (identifier) @name) @definition.type
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(property_declaration name: (identifier) @name) @definition.constant
(field_declaration (variable_declaration (variable_declarator name: (identifier) @name))) @definition.constant
(using_directive) @import

;; section: locals
(class_declaration name: (identifier) @binding)
(record_declaration name: (identifier) @binding)
(struct_declaration name: (identifier) @binding)
(interface_declaration name: (identifier) @binding)
(enum_declaration name: (identifier) @binding)
(method_declaration name: (identifier) @binding)
(property_declaration name: (identifier) @binding)
(variable_declarator name: (identifier) @binding)
(parameter name: (identifier) @binding)
(foreach_statement left: (identifier) @binding)
(catch_declaration name: (identifier) @binding)
(type_parameter name: (identifier) @binding)
(local_function_statement name: (identifier) @binding)
(enum_member_declaration name: (identifier) @binding)
(using_directive) @import

;; section: references
(class_declaration name: (identifier) @reference.ignore)
(interface_declaration name: (identifier) @reference.ignore)
(struct_declaration name: (identifier) @reference.ignore)
(record_declaration name: (identifier) @reference.ignore)
(method_declaration name: (identifier) @reference.ignore)
(constructor_declaration name: (identifier) @reference.ignore)
(member_access_expression
  expression: (identifier) @reference.object
  name: (identifier) @reference.member)
(member_access_expression name: (_) @reference.ignore)
(using_directive) @reference.ignore
(namespace_declaration name: (_) @reference.ignore)
(file_scoped_namespace_declaration name: (_) @reference.ignore)
(identifier) @reference

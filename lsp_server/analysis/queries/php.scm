; PHP: definitions, namespace `use` and require/include, bindings and references.

;; section: tags
(namespace_definition name: (namespace_name) @package)
(function_definition name: (name) @name) @definition.function
(class_declaration name: (name) @name) @definition.class
(interface_declaration name: (name) @name) @definition.type
(trait_declaration name: (name) @name) @definition.type
(enum_declaration name: (name) @name) @definition.type
(method_declaration name: (name) @name) @definition.method
(const_declaration (const_element (name) @name)) @definition.constant
(namespace_use_declaration) @import
(require_expression) @import
(require_once_expression) @import
(include_expression) @import
(include_once_expression) @import

;; section: locals
(function_definition name: (name) @binding)
(class_declaration name: (name) @binding)
(interface_declaration name: (name) @binding)
(trait_declaration name: (name) @binding)
(enum_declaration name: (name) @binding)
(method_declaration name: (name) @binding)
(const_element (name) @binding)
(namespace_use_declaration) @import
(require_expression) @import
(require_once_expression) @import
(include_expression) @import
(include_once_expression) @import

;; section: references
(function_definition name: (name) @reference.ignore)
(class_declaration name: (name) @reference.ignore)
(method_declaration name: (name) @reference.ignore)
(interface_declaration name: (name) @reference.ignore)
(scoped_call_expression
  scope: (name) @reference.object
  name: (name) @reference.member)
(class_constant_access_expression
  . (name) @reference.object
  . (name) @reference.member)
(qualified_name) @reference.path
(member_access_expression name: (name) @reference.ignore)
(member_call_expression name: (name) @reference.ignore)
(scoped_call_expression name: (name) @reference.ignore)
(variable_name) @reference.ignore
(namespace_use_declaration) @reference.ignore
(namespace_definition) @reference.ignore
(named_type (name) @reference)
(function_call_expression function: (name) @reference)
(object_creation_expression (name) @reference)
(base_clause (name) @reference)
(class_interface_clause (name) @reference)
(name) @reference

; Go: definitions, imports, bindings and references.

;; section: tags
(const_declaration) @wrapper
(var_declaration) @wrapper
(type_declaration) @wrapper
(package_clause (package_identifier) @package)
(function_declaration name: (identifier) @name) @definition.function
(method_declaration name: (field_identifier) @name) @definition.method
(type_declaration (type_spec name: (type_identifier) @name) @definition.type)
(type_declaration (type_alias name: (type_identifier) @name) @definition.type)
(source_file (const_declaration (const_spec name: (identifier) @name) @definition.constant))
(source_file (var_declaration (var_spec name: (identifier) @name) @definition.variable))
(import_declaration) @import

;; section: locals
(function_declaration name: (identifier) @binding)
(type_spec name: (type_identifier) @binding)
(type_alias name: (type_identifier) @binding)
(const_spec name: (identifier) @binding)
(var_spec name: (identifier) @binding)
(parameter_declaration name: (identifier) @binding)
(variadic_parameter_declaration name: (identifier) @binding)
(short_var_declaration left: (expression_list (identifier) @binding))
(range_clause left: (expression_list (identifier) @binding))
(type_parameter_declaration name: (identifier) @binding)
(labeled_statement label: (label_name) @binding)
(import_declaration) @import

;; section: references
(function_declaration name: (identifier) @reference.ignore)
(type_spec name: (type_identifier) @reference.ignore)
(selector_expression
  operand: (identifier) @reference.object
  field: (field_identifier) @reference.member)
(qualified_type
  package: (package_identifier) @reference.object
  name: (type_identifier) @reference.member)
(import_declaration) @reference.ignore
(identifier) @reference
(type_identifier) @reference

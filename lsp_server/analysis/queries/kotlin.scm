; Kotlin: definitions, imports, bindings and references (the grammar has few fields).

;; section: tags
(package_header (identifier) @package)
(class_declaration (type_identifier) @name) @definition.class
(object_declaration (type_identifier) @name) @definition.class
(function_declaration (simple_identifier) @name) @definition.function
(type_alias (type_identifier) @name) @definition.type
(source_file (property_declaration (variable_declaration (simple_identifier) @name)) @definition.constant)
(import_header) @import

;; section: locals
(class_declaration (type_identifier) @binding)
(object_declaration (type_identifier) @binding)
(function_declaration (simple_identifier) @binding)
(type_alias (type_identifier) @binding)
(variable_declaration (simple_identifier) @binding)
(parameter (simple_identifier) @binding)
(class_parameter (simple_identifier) @binding)
(lambda_parameters (variable_declaration (simple_identifier) @binding))
(type_parameter (type_identifier) @binding)
(import_header) @import

;; section: references
(function_declaration (simple_identifier) @reference.ignore)
(class_declaration (type_identifier) @reference.ignore)
(object_declaration (type_identifier) @reference.ignore)
(navigation_expression
  (simple_identifier) @reference.object
  (navigation_suffix (simple_identifier) @reference.member))
(navigation_suffix (simple_identifier) @reference.ignore)
(import_header) @reference.ignore
(package_header) @reference.ignore
(simple_identifier) @reference
(type_identifier) @reference

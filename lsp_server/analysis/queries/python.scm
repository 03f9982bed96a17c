; Python: definitions, imports, bindings and references.

;; section: tags
(decorated_definition) @wrapper
(function_definition name: (identifier) @name) @definition.function
(class_definition name: (identifier) @name) @definition.class
(module (assignment left: (identifier) @name) @definition.constant)
(module (expression_statement (assignment left: (identifier) @name) @definition.constant))
(import_statement) @import
(import_from_statement) @import

;; section: locals
(function_definition name: (identifier) @binding)
(class_definition name: (identifier) @binding)
(parameters (identifier) @binding)
(lambda_parameters (identifier) @binding)
(default_parameter name: (identifier) @binding)
(typed_parameter (identifier) @binding)
(typed_default_parameter name: (identifier) @binding)
(list_splat_pattern (identifier) @binding)
(dictionary_splat_pattern (identifier) @binding)
(assignment left: (identifier) @binding)
(augmented_assignment left: (identifier) @binding)
(pattern_list (identifier) @binding)
(tuple_pattern (identifier) @binding)
(list_pattern (identifier) @binding)
(for_statement left: (identifier) @binding)
(for_in_clause left: (identifier) @binding)
(as_pattern_target (identifier) @binding)
(named_expression name: (identifier) @binding)
(global_statement (identifier) @binding)
(nonlocal_statement (identifier) @binding)
(import_statement) @import
(import_from_statement) @import

;; section: references
(function_definition name: (identifier) @reference.ignore)
(class_definition name: (identifier) @reference.ignore)
(attribute
  object: (identifier) @reference.object
  attribute: (identifier) @reference.member)
(attribute attribute: (identifier) @reference.ignore)
(keyword_argument name: (identifier) @reference.ignore)
(import_statement) @reference.ignore
(import_from_statement) @reference.ignore
(identifier) @reference

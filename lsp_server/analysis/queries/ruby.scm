; Ruby: definitions, require/require_relative, bindings and references.

;; section: tags
(method name: (_) @name) @definition.method
(singleton_method name: (_) @name) @definition.method
(class name: (constant) @name) @definition.class
(class name: (scope_resolution name: (constant) @name)) @definition.class
(module name: (constant) @name) @definition.module
(module name: (scope_resolution name: (constant) @name)) @definition.module
(assignment left: (constant) @name) @definition.constant
(call method: (identifier) @_m (#any-of? @_m "require" "require_relative" "load")) @import

;; section: locals
(method name: (_) @binding)
(singleton_method name: (_) @binding)
(class name: (constant) @binding)
(module name: (constant) @binding)
(assignment left: (identifier) @binding)
(assignment left: (constant) @binding)
(operator_assignment left: (identifier) @binding)
(method_parameters (identifier) @binding)
(lambda_parameters (identifier) @binding)
(block_parameters (identifier) @binding)
(optional_parameter name: (identifier) @binding)
(keyword_parameter name: (identifier) @binding)
(splat_parameter name: (identifier) @binding)
(hash_splat_parameter name: (identifier) @binding)
(block_parameter name: (identifier) @binding)
(left_assignment_list (identifier) @binding)
(for pattern: (identifier) @binding)
(call method: (identifier) @_m (#any-of? @_m "require" "require_relative" "load")) @import

;; section: references
(method name: (_) @reference.ignore)
(singleton_method name: (_) @reference.ignore)
(class name: (_) @reference.ignore)
(module name: (_) @reference.ignore)
(call
  receiver: (constant) @reference.object
  method: (identifier) @reference.member)
(scope_resolution
  scope: (constant) @reference.object
  name: (constant) @reference.member)
(call receiver: (_) method: (_) @reference.ignore)
(call method: (identifier) @_m (#any-of? @_m "require" "require_relative" "load")) @reference.ignore
(identifier) @reference
(constant) @reference

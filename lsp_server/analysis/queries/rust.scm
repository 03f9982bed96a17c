; Rust: definitions, `mod`/`use` declarations, bindings and references.

;; section: tags
(impl_item) @scope
(function_item name: (identifier) @name) @definition.function
(function_signature_item name: (identifier) @name) @definition.function
(struct_item name: (type_identifier) @name) @definition.type
(enum_item name: (type_identifier) @name) @definition.type
(union_item name: (type_identifier) @name) @definition.type
(trait_item name: (type_identifier) @name) @definition.type
(type_item name: (type_identifier) @name) @definition.type
(const_item name: (identifier) @name) @definition.constant
(static_item name: (identifier) @name) @definition.constant
(macro_definition name: (identifier) @name) @definition.function
(mod_item name: (identifier) @name body: (_)) @definition.module
(mod_item) @import
(use_declaration) @import
(extern_crate_declaration) @import

;; section: locals
(function_item name: (identifier) @binding)
(function_signature_item name: (identifier) @binding)
(struct_item name: (type_identifier) @binding)
(enum_item name: (type_identifier) @binding)
(union_item name: (type_identifier) @binding)
(trait_item name: (type_identifier) @binding)
(type_item name: (type_identifier) @binding)
(const_item name: (identifier) @binding)
(static_item name: (identifier) @binding)
(macro_definition name: (identifier) @binding)
(enum_variant name: (identifier) @binding)
(parameter pattern: (identifier) @binding)
(let_declaration pattern: (identifier) @binding)
(tuple_pattern (identifier) @binding)
(closure_parameters (identifier) @binding)
(for_expression pattern: (identifier) @binding)
(type_parameter name: (type_identifier) @binding)
(mod_item) @import
(use_declaration) @import
(extern_crate_declaration) @import

;; section: references
(function_item name: (identifier) @reference.ignore)
(struct_item name: (type_identifier) @reference.ignore)
(enum_item name: (type_identifier) @reference.ignore)
(trait_item name: (type_identifier) @reference.ignore)
(scoped_identifier) @reference.path
(scoped_type_identifier) @reference.path
(use_declaration) @reference.ignore
(mod_item name: (identifier) @reference.ignore)
(field_expression field: (field_identifier) @reference.ignore)
(identifier) @reference
(type_identifier) @reference

"""Admin GraphQL API of the development store, executed against Shopify's official schema."""

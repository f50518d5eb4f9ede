"""Compile a bulk query document into SQL plans (one per connection) that emit finished JSONL lines.

SQL text comes only from the specs in fields.py and from GraphQL names (which the GraphQL grammar limits
to [_A-Za-z][_0-9A-Za-z]*); every value from the request (field arguments) is a bound parameter.

Validation follows Shopify's bulk query rules: a valid document with one query operation, at least one
connection and at most five, connections nested at most two levels deep, and a supported root connection
(`orders` or `customers`). Fields devshop cannot produce in bulk are refused up front, by name.
"""
import re
from dataclasses import dataclass, field

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    parse,
    validate,
    value_from_ast,
)
from graphql.error import GraphQLSyntaxError

from .fields import ORDER_SCOPED, ROOTS, TYPES, C, J, L, O, S

MAX_CONNECTIONS = 5
MAX_DEPTH = 2


class BulkQueryError(ValueError):
    """The query cannot run as a bulk operation (a userError of bulkOperationRunQuery)."""


class BulkAccessDenied(BulkQueryError):
    """The app lacks a scope the query needs (the operation fails with ACCESS_DENIED)."""


@dataclass
class Plan:
    type_name: str
    alias: str
    json_sql: str  # expression building the node's JSON object
    from_sql: str  # FROM ... joins
    params: list  # parameters of json_sql/from_sql, in order
    children: list["ChildPlan"] = field(default_factory=list)


@dataclass
class ChildPlan:
    key: str
    fk: str
    plan: Plan


@dataclass
class BulkPlan:
    root_field: str
    root_query: str | None
    root: Plan
    connections: int


class _Compiler:
    def __init__(self, schema: GraphQLSchema, fragments: dict, scopes: set[str], shop_currency: str):
        self.schema = schema
        self.fragments = fragments
        self.scopes = scopes
        self.alias_n = 0
        self.connections = 0
        if not re.fullmatch(r"[A-Z]{3}", shop_currency):
            raise BulkQueryError("shop currency is invalid")
        self.shop_currency = f"'{shop_currency}'"

    def _alias(self, prefix: str) -> str:
        self.alias_n += 1
        return f"{prefix}{self.alias_n}"

    def _fields(self, selection_set) -> list[FieldNode]:
        out: list[FieldNode] = []
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                out.append(sel)
            elif isinstance(sel, InlineFragmentNode):
                out.extend(self._fields(sel.selection_set))
            elif isinstance(sel, FragmentSpreadNode):
                out.extend(self._fields(self.fragments[sel.name.value].selection_set))
        return out

    def _require(self, scope: str | None, what: str) -> None:
        if scope is None:
            return
        granted = self.scopes | {"read_" + s[6:] for s in self.scopes if s.startswith("write_")}
        if scope not in granted:
            raise BulkAccessDenied(f"Access denied for {what}: `{scope}` access scope is required.")

    def _args(self, field_node: FieldNode, type_name: str) -> dict:
        gtype = self.schema.get_type(type_name)
        fdef = gtype.fields[field_node.name.value]
        return {a.name.value: value_from_ast(a.value, fdef.args[a.name.value].type, {})
                for a in field_node.arguments or ()}

    def _fmt(self, sql: str, ctx: dict) -> str:
        return sql.format(**ctx)

    def object_sql(self, type_name: str, spec_fields: dict, selection_set, ctx: dict, plan_out: dict,
                   depth: int, path: str) -> str:
        pairs = []
        for f in self._fields(selection_set):
            name = f.name.value
            key = f.alias.value if f.alias else name
            if name == "__typename":
                pairs.append(f"'{key}', '{type_name}'")
                continue
            spec = spec_fields.get(name)
            if spec is None:
                raise BulkQueryError(f"devshop does not support the field `{path}.{name}` in bulk queries.")
            sql = self.field_sql(spec, f, type_name, ctx, plan_out, depth, path + "." + name)
            if sql is not None:  # None: a nested connection, written as separate lines
                pairs.append(f"'{key}', {sql}")
        if plan_out["children"] and not any(f.name.value == "id" for f in self._fields(selection_set)):
            raise BulkQueryError(f"The parent '{path}' field for a nested connection must select the 'id' field.")
        # json_build_object takes at most 100 arguments: build in chunks and merge (json keeps key order).
        chunks = [pairs[i:i + 45] for i in range(0, len(pairs), 45)]
        objs = [f"json_build_object({', '.join(c)})" for c in chunks]
        return objs[0] if len(objs) == 1 else "(" + " || ".join(f"{o}::jsonb" for o in objs) + ")::json"

    def field_sql(self, spec, f: FieldNode, owner_type: str, ctx: dict, plan_out: dict, depth: int,
                  path: str) -> str:
        if isinstance(spec, S):
            if f.selection_set:
                raise BulkQueryError(f"`{path}` is a scalar.")
            return self._fmt(spec.sql, ctx)
        if isinstance(spec, O):
            inner = self.object_sql(spec.typename or "", spec.fields, f.selection_set, ctx, plan_out, depth, path)
            if spec.null_if:
                return f"CASE WHEN {self._fmt(spec.null_if, ctx)} THEN NULL ELSE {inner} END"
            return inner
        if isinstance(spec, J):
            self._require(spec.scope, path)
            j = self._alias("j")
            jctx = dict(ctx, a=j, j=j, o=j if spec.type_name == "Order" else ctx.get("o"))
            on = spec.on.format(a=ctx["a"], j=j)
            if spec.args is not None:
                extra_params: list = []
                extra = spec.args(self._args(f, owner_type), extra_params).format(j=j)
                on = f"{on} AND {extra}"
                plan_out["join_params"].extend(extra_params)
            plan_out["joins"].append(f"LEFT JOIN {spec.table} {j} ON {on}")
            target = TYPES[spec.type_name]
            inner = self.object_sql(spec.type_name, target.fields, f.selection_set, jctx, plan_out, depth, path)
            return f"CASE WHEN {j}.id IS NULL THEN NULL ELSE {inner} END"
        if isinstance(spec, L):
            target = TYPES[spec.type_name]
            la = self._alias("l")
            lctx = dict(ctx, a=la, o=ctx["a"] if owner_type == "Order" else ctx.get("o"))
            sub_out = {"joins": [], "join_params": [], "children": []}
            inner = self.object_sql(spec.type_name, target.fields, f.selection_set, lctx, sub_out, depth, path)
            if sub_out["joins"] or sub_out["children"]:
                raise BulkQueryError(f"devshop does not support relations or connections inside `{path}`.")
            order = spec.order.format(a=la)
            return (f"(SELECT coalesce(json_agg({inner} ORDER BY {la}.{order}), '[]'::json) "  # noqa: S608
                    f"FROM {target.table} {la} WHERE {la}.{spec.fk} = {ctx['a']}.id)")
        if isinstance(spec, C):
            self._require(spec.scope, path)
            self.connections += 1
            if depth + 1 > MAX_DEPTH:
                raise BulkQueryError(
                    "Bulk queries cannot contain connections with a nesting depth greater than 2.")
            key = f.alias.value if f.alias else f.name.value
            child = self.connection_plan(spec.type_name, f, depth + 1, path, parent_is_order=owner_type == "Order")
            plan_out["children"].append(ChildPlan(key=key, fk=spec.fk, plan=child))
            return None
        raise BulkQueryError(f"unsupported spec for {path}")

    def node_selection(self, conn_field: FieldNode, path: str):
        """The selection set of the node of a connection (edges { node { … } } or nodes { … })."""
        found = None
        for f in self._fields(conn_field.selection_set):
            name = f.name.value
            if name == "edges":
                for g in self._fields(f.selection_set):
                    if g.name.value == "node":
                        found = g.selection_set
                    elif g.name.value != "__typename":
                        raise BulkQueryError(f"devshop supports only `node` under `{path}.edges` in bulk queries.")
            elif name == "nodes":
                found = f.selection_set
            elif name == "pageInfo":
                raise BulkQueryError("pageInfo is not supported in bulk queries (there are no pages).")
            elif name != "__typename":
                raise BulkQueryError(f"devshop does not support `{path}.{name}` in bulk queries.")
        if found is None:
            raise BulkQueryError(f"`{path}` must select edges {{ node {{ … }} }} or nodes {{ … }}.")
        return found

    def connection_plan(self, type_name: str, conn_field: FieldNode, depth: int, path: str,
                        parent_is_order: bool = False, alias: str | None = None) -> Plan:
        spec = TYPES[type_name]
        alias = alias or self._alias("t")
        ctx = {"a": alias, "shop_currency": self.shop_currency}
        plan_out: dict = {"joins": [], "join_params": [], "children": []}
        from_sql = f"{spec.table} {alias}"
        if type_name in ORDER_SCOPED:
            # Money of line items and refunds is in their order's currencies.
            ctx["o"] = self._alias("o")
            from_sql += f" JOIN devshop_store_order {ctx['o']} ON {ctx['o']}.id = {alias}.order_id"
        elif type_name == "Order":
            ctx["o"] = alias
        selection = self.node_selection(conn_field, path)
        json_sql = self.object_sql(type_name, spec.fields, selection, ctx, plan_out, depth, path)
        joins = " ".join(plan_out["joins"])
        return Plan(type_name=type_name, alias=alias, json_sql=json_sql, from_sql=f"{from_sql} {joins}",
                    params=list(plan_out["join_params"]), children=plan_out["children"])


def compile_bulk_query(schema: GraphQLSchema, query: str, *, scopes: set[str], shop_currency: str) -> BulkPlan:
    try:
        document = parse(query)
    except GraphQLSyntaxError as exc:
        raise BulkQueryError(f"Invalid bulk query: {exc.message}") from exc
    errors = validate(schema, document)
    if errors:
        raise BulkQueryError(f"Invalid bulk query: {errors[0].message}")
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation.value != "query":
        raise BulkQueryError("Bulk queries must contain exactly one query operation.")
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    compiler = _Compiler(schema, fragments, scopes, shop_currency)
    roots = compiler._fields(operations[0].selection_set)
    if len(roots) != 1:
        raise BulkQueryError("Bulk queries must have exactly one top-level field.")
    root = roots[0]
    name = root.name.value
    if name not in ROOTS:
        if name.endswith("s") or name in ("shop",):
            raise BulkQueryError(
                f"devshop supports the root connections {', '.join(ROOTS)} in bulk queries, not `{name}`.")
        raise BulkQueryError("Bulk queries must contain at least one connection.")
    type_name, scope = ROOTS[name]
    compiler._require(scope, name)
    args = compiler._args(root, "QueryRoot")
    compiler.connections = 1
    # The root table is aliased by its own name so that the ORM's WHERE clause (from the `query`
    # argument, see runner._root_where) applies to it unchanged.
    plan = compiler.connection_plan(type_name, root, 1, name, alias=TYPES[type_name].table)
    if compiler.connections > MAX_CONNECTIONS:
        raise BulkQueryError(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections.")
    return BulkPlan(root_field=name, root_query=args.get("query"), root=plan, connections=compiler.connections)

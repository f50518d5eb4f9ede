"""Calculated query cost, by Shopify's published rules.

- scalars and enums cost 0, objects 1 (plus their selections);
- interfaces and unions cost the most expensive of their possible selections;
- connections cost 2 + first/last x (cost of one node), and what a page actually returned for the actual cost;
- each mutation field costs 10.
The requested cost is computed before execution (and reserved from the bucket); the actual cost walks the
result, so a page that returned fewer nodes than asked costs less (the difference is refunded).
"""
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    value_from_ast,
)

MUTATION_COST = 10
CONNECTION_BASE = 2


def _unwrap_nonnull(t):
    return t.of_type if isinstance(t, GraphQLNonNull) else t


class CostCalculator:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict):
        self.schema = schema
        self.fragments = fragments
        self.variables = variables or {}

    def _groups(self, parent, selection_set) -> list[list[tuple[FieldNode, object]]]:
        """Field lists per type condition: abstract parents get one group per fragment type."""
        common: list[FieldNode] = []
        by_type: dict[str, list[FieldNode]] = {}

        def walk(sel_set, condition: str | None):
            for sel in sel_set.selections:
                if isinstance(sel, FieldNode):
                    (by_type.setdefault(condition, []) if condition else common).append(sel)
                elif isinstance(sel, InlineFragmentNode):
                    cond = sel.type_condition.name.value if sel.type_condition else None
                    walk(sel.selection_set, cond if cond and cond != parent.name else condition)
                elif isinstance(sel, FragmentSpreadNode):
                    frag = self.fragments.get(sel.name.value)
                    if frag is not None:
                        cond = frag.type_condition.name.value
                        walk(frag.selection_set, cond if cond != parent.name else condition)

        walk(selection_set, None)
        if not by_type:
            return [[(f, parent) for f in common]]
        groups = []
        for cond, fields in by_type.items():
            cond_type = self.schema.get_type(cond) or parent
            groups.append([(f, parent) for f in common] + [(f, cond_type) for f in fields])
        return groups

    def selection_cost(self, parent, selection_set, data) -> int:
        if selection_set is None:
            return 0
        best = 0
        for group in self._groups(parent, selection_set):
            total = sum(self.field_cost(owner, field, data) for field, owner in group)
            best = max(best, total)
        return best

    def _arg(self, field: FieldNode, name: str, field_def):
        for arg in field.arguments or ():
            if arg.name.value == name and name in field_def.args:
                return value_from_ast(arg.value, field_def.args[name].type, self.variables)
        return None

    def field_cost(self, owner, field: FieldNode, parent_data) -> int:
        name = field.name.value
        if name.startswith("__") or not hasattr(owner, "fields") or name not in owner.fields:
            return 0
        field_def = owner.fields[name]
        key = field.alias.value if field.alias else name
        data = None
        if parent_data is not None:
            if not isinstance(parent_data, dict) or key not in parent_data:
                return 0  # not resolved for this object (another fragment's type)
            data = parent_data[key]
        named = get_named_type(field_def.type)
        if not isinstance(named, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)):
            return 0
        if named.name.endswith("Connection") and "edges" in getattr(named, "fields", {}):
            return self._connection_cost(named, field, field_def, data, parent_data is not None)
        inner = _unwrap_nonnull(field_def.type)
        if isinstance(inner, GraphQLList) and parent_data is not None:
            items = data or []
            return sum(1 + self.selection_cost(named, field.selection_set, item) for item in items)
        if parent_data is not None and data is None:
            return 1
        return 1 + self.selection_cost(named, field.selection_set, data)

    def _connection_cost(self, conn_type, field, field_def, data, actual: bool) -> int:
        size = self._arg(field, "first", field_def)
        if size is None:
            size = self._arg(field, "last", field_def)
        if size is None:
            size = 1
        node_type = get_named_type(conn_type.fields["edges"].type).fields["node"].type
        node_type = get_named_type(node_type)
        per_node_selections = []
        for sel_field, _owner in self._groups(conn_type, field.selection_set)[0]:
            fname = sel_field.name.value
            if fname == "nodes":
                per_node_selections.append(("nodes", sel_field, None))
            elif fname == "edges":
                for edge_field, _ in self._groups(get_named_type(conn_type.fields["edges"].type),
                                                  sel_field.selection_set)[0]:
                    if edge_field.name.value == "node":
                        per_node_selections.append(("edges", sel_field, edge_field))
        if not actual:
            node_cost = max((1 + self.selection_cost(node_type, (e or s).selection_set, None)
                             for _, s, e in per_node_selections), default=0)
            return CONNECTION_BASE + size * node_cost
        if data is None:
            return CONNECTION_BASE
        best = 0
        for kind, sel, edge_field in per_node_selections:
            key = sel.alias.value if sel.alias else sel.name.value
            items = data.get(key) or []
            if kind == "nodes":
                cost = sum(1 + self.selection_cost(node_type, sel.selection_set, n) for n in items)
            else:
                node_key = edge_field.alias.value if edge_field.alias else "node"
                cost = sum(1 + self.selection_cost(node_type, edge_field.selection_set, (e or {}).get(node_key))
                           for e in items)
            best = max(best, cost)
        return CONNECTION_BASE + best


def operation_cost(schema: GraphQLSchema, document, operation: OperationDefinitionNode, variables: dict,
                   data: dict | None = None, actual: bool = False) -> int:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    calc = CostCalculator(schema, fragments, variables)
    if operation.operation == OperationType.MUTATION:
        root = schema.mutation_type
        total = 0
        for field, _owner in calc._groups(root, operation.selection_set)[0]:
            if not field.name.value.startswith("__"):
                total += MUTATION_COST
        return total
    root = schema.query_type
    if actual:
        return calc.selection_cost(root, operation.selection_set, data or {})
    return calc.selection_cost(root, operation.selection_set, None)

"""Execute one Admin API request: parse, validate, cost, throttle, run, and shape the response like Shopify."""
from dataclasses import dataclass, field

from graphql import (
    GraphQLError,
    OperationDefinitionNode,
    execute,
    parse,
    specified_rules,
    validate,
)
from graphql.error import GraphQLSyntaxError

from . import throttle
from .cost import operation_cost
from .schema import get_schema

THROTTLE_DOCS = "https://shopify.dev/api/usage/rate-limits"

# graphql-core rule -> the error code Shopify (graphql-ruby) reports for the same problem.
RULE_CODES = {
    "FieldsOnCorrectTypeRule": "undefinedField",
    "KnownArgumentNamesRule": "argumentNotAccepted",
    "ProvidedRequiredArgumentsRule": "missingRequiredArguments",
    "ValuesOfCorrectTypeRule": "argumentLiteralsIncompatible",
    "NoUnusedVariablesRule": "variableNotUsed",
    "NoUndefinedVariablesRule": "variableNotDefined",
    "KnownTypeNamesRule": "undefinedType",
    "ScalarLeafsRule": "selectionMismatch",
    "NoUnusedFragmentsRule": "useAndDefineFragment",
    "KnownFragmentNamesRule": "undefinedFragment",
    "UniqueArgumentNamesRule": "argumentNotUnique",
    "VariablesAreInputTypesRule": "variableRequiresValidType",
    "VariablesInAllowedPositionRule": "variableMismatch",
    "FragmentsOnCompositeTypesRule": "fragmentOnNonCompositeType",
    "PossibleFragmentSpreadsRule": "cannotSpreadFragment",
    "OverlappingFieldsCanBeMergedRule": "fieldConflict",
    "LoneAnonymousOperationRule": "loneAnonymousOperation",
    "UniqueOperationNamesRule": "operationNotUnique",
    "KnownDirectivesRule": "undefinedDirective",
    "NoFragmentCyclesRule": "infiniteLoop",
    "UniqueVariableNamesRule": "variableNotUnique",
}


@dataclass
class ApiResponse:
    status: int
    body: dict
    headers: dict = field(default_factory=dict)


def _format_error(error: GraphQLError, code: str | None = None) -> dict:
    out = error.formatted
    if code:
        out.setdefault("extensions", {})["code"] = code
    return out


def _validation_errors(schema, document) -> list[dict]:
    errors = validate(schema, document)
    if not errors:
        return []
    formatted = []
    seen = set()
    # Find which rule produced each error, to report Shopify's code for it.
    for rule in specified_rules:
        for err in validate(schema, document, rules=[rule]):
            key = (err.message, tuple((loc.line, loc.column) for loc in err.locations or ()))
            if key in seen:
                continue
            seen.add(key)
            formatted.append(_format_error(err, RULE_CODES.get(rule.__name__, "GRAPHQL_VALIDATION_FAILED")))
    return formatted or [_format_error(e, "GRAPHQL_VALIDATION_FAILED") for e in errors]


def _pick_operation(document, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((op for op in operations if op.name and op.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


def execute_admin_request(*, shop, installation, request, body: dict) -> ApiResponse:
    query = body.get("query")
    variables = body.get("variables") or {}
    operation_name = body.get("operationName")
    if not isinstance(query, str) or not query.strip():
        return ApiResponse(400, {"errors": {"query": "Required parameter missing or invalid"}})
    if not isinstance(variables, dict):
        return ApiResponse(400, {"errors": {"variables": "must be a JSON object"}})
    schema = get_schema()
    try:
        document = parse(query)
    except GraphQLSyntaxError as exc:
        return ApiResponse(200, {"errors": [_format_error(exc, "PARSE_ERROR")]})
    errors = _validation_errors(schema, document)
    if errors:
        return ApiResponse(200, {"errors": errors})
    operation = _pick_operation(document, operation_name)
    if operation is None:
        message = (f"No operation named \"{operation_name}\"" if operation_name
                   else "An operation name is required when the document has several operations")
        return ApiResponse(200, {"errors": [{"message": message, "extensions": {"code": "OPERATION_NAME_REQUIRED"}}]})
    if operation.operation.value == "subscription":
        return ApiResponse(200, {"errors": [{"message": "Subscriptions are not supported by the Admin API"}]})

    try:
        requested = operation_cost(schema, document, operation, variables)
    except (GraphQLError, TypeError, ValueError) as exc:
        return ApiResponse(200, {"errors": [{"message": f"Variable error: {exc}",
                                             "extensions": {"code": "INVALID_VARIABLE"}}]})
    key = str(getattr(installation, "id", "anonymous"))
    size, rate = throttle.limits_for(shop)
    if requested > throttle.MAX_SINGLE_QUERY_COST:
        return ApiResponse(200, {
            "errors": [{
                "message": (f"Query cost is {requested}, which exceeds the single query max cost limit "
                            f"({throttle.MAX_SINGLE_QUERY_COST}).\n\nSee https://shopify.dev/concepts/about-apis/"
                            "rate-limits for more information on how the\ncost of a query is calculated.\n\n"
                            "To query larger amounts of data with fewer limits, bulk operations should be used "
                            "instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api "
                            "for usage details.\n"),
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                               "maxCost": throttle.MAX_SINGLE_QUERY_COST, "documentation": THROTTLE_DOCS},
            }],
        })
    ok, status = throttle.reserve(shop, key, requested)
    if not ok:
        return ApiResponse(200, {
            "errors": [{"message": "Throttled",
                        "extensions": {"code": "THROTTLED", "documentation": THROTTLE_DOCS}}],
            "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": None,
                                    "throttleStatus": status.as_dict()}},
        })

    context = {"shop": shop, "installation": installation, "request": request}
    result = execute(schema, document, variable_values=variables, operation_name=operation_name,
                     context_value=context)
    if operation.operation.value == "mutation":
        actual = requested
    else:
        actual = min(requested, operation_cost(schema, document, operation, variables, result.data or {},
                                               actual=True))
    status = throttle.refund(shop, key, requested - actual)
    payload: dict = {}
    if result.errors:
        payload["errors"] = [_format_error(e) for e in result.errors]
    payload["data"] = result.data
    extensions: dict = {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                                 "throttleStatus": status.as_dict()}}
    if context.get("search_warnings"):
        extensions["search"] = context["search_warnings"]
    payload["extensions"] = extensions
    return ApiResponse(200, payload)

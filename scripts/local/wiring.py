"""The topology, read back from what Terraform applied to moto. Nothing here is hard-coded:
the functions, routes, stream mappings, rules and targets are whatever moto holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from scripts.local.aws import Moto

# AWS's defaults when a setting is left out, so an unset value behaves locally as on AWS.
ASYNC_DEFAULT_RETRIES = 2
ASYNC_DEFAULT_MAX_AGE_S = 6 * 3600
TARGET_DEFAULT_RETRIES = 185
TARGET_DEFAULT_MAX_AGE_S = 24 * 3600
UNLIMITED = -1


@dataclass(frozen=True)
class AsyncConfig:
    """A function's asynchronous invocation settings (aws_lambda_function_event_invoke_config)."""

    max_retry_attempts: int = ASYNC_DEFAULT_RETRIES
    max_event_age_s: int = ASYNC_DEFAULT_MAX_AGE_S
    on_failure_arn: str | None = None
    on_success_arn: str | None = None


@dataclass(frozen=True)
class Permission:
    """One statement of a function's resource policy (aws_lambda_permission)."""

    principal: str
    source_arn_pattern: str | None

    def allows(self, principal: str, source_arn: str) -> bool:
        if self.principal not in (principal, "*"):
            return False
        if self.source_arn_pattern is None:
            return True
        # ArnLike: * is any run of characters (slashes included), ? any one character.
        regex = re.escape(self.source_arn_pattern).replace(r"\*", ".*").replace(r"\?", ".")
        return re.fullmatch(regex, source_arn) is not None


@dataclass(frozen=True)
class Function:
    name: str
    arn: str
    handler: str
    runtime: str
    timeout_s: int
    memory_mb: int
    environment: Mapping[str, str]
    code_sha256: str
    dead_letter_arn: str | None = None
    async_config: AsyncConfig = field(default_factory=AsyncConfig)
    permissions: tuple[Permission, ...] = ()
    # aws_lambda_function's logging_config, as Lambda answers it (LoggingConfig).
    logging: Mapping[str, str] = field(default_factory=dict)

    def allows(self, principal: str, source_arn: str) -> bool:
        """Whether the resource policy lets ``principal`` invoke it on behalf of ``source_arn``."""
        return any(p.allows(principal, source_arn) for p in self.permissions)


@dataclass(frozen=True)
class JwtAuthorizer:
    """An HTTP API's JWT authorizer (aws_apigatewayv2_authorizer, type JWT)."""

    authorizer_id: str
    name: str
    identity_sources: tuple[str, ...]
    issuer: str
    audience: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    route_key: str
    function_arn: str
    payload_format_version: str
    # NONE, JWT, AWS_IAM or CUSTOM; only NONE and JWT are emulated.
    authorization_type: str = "NONE"
    authorizer: JwtAuthorizer | None = None
    authorization_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class HttpApi:
    api_id: str
    name: str
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class StreamMapping:
    uuid: str
    stream_arn: str
    function_arn: str
    batch_size: int
    starting_position: str
    max_retry_attempts: int
    max_record_age_s: int
    bisect_on_error: bool
    report_batch_item_failures: bool
    on_failure_arn: str | None


@dataclass(frozen=True)
class Target:
    id: str
    arn: str
    max_retry_attempts: int
    max_event_age_s: int
    dead_letter_arn: str | None
    input: str | None = None
    input_path: str | None = None
    input_transformer: Mapping[str, Any] | None = None

    @property
    def is_lambda(self) -> bool:
        return self.arn.split(":")[2] == "lambda"


@dataclass(frozen=True)
class Rule:
    name: str
    arn: str
    bus_name: str
    event_pattern: str | None
    enabled: bool
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Wiring:
    functions: Mapping[str, Function]
    apis: tuple[HttpApi, ...]
    stream_mappings: tuple[StreamMapping, ...]
    rules: tuple[Rule, ...]

    def function(self, arn_or_name: str) -> Function:
        """The function an ARN (qualified or not) or a name designates."""
        parts = arn_or_name.split(":")
        name = parts[6] if len(parts) >= 7 else arn_or_name
        for function in self.functions.values():
            if function.name == name:
                return function
        raise KeyError(f"no function {arn_or_name!r} in moto")

    @property
    def bus_names(self) -> tuple[str, ...]:
        return tuple(sorted({rule.bus_name for rule in self.rules}))


def load(moto: Moto) -> Wiring:
    functions = {f.arn: f for f in _functions(moto)}
    return Wiring(
        functions=functions,
        apis=tuple(_apis(moto)),
        stream_mappings=tuple(_stream_mappings(moto)),
        rules=tuple(_rules(moto)),
    )


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page[key]


def deployed_code(lambda_: Any) -> dict[str, str]:
    """Each function's code as deployed now (CodeSha256), by function ARN; ``lambda_`` is
    a Lambda client of the moto server (made once by a caller that asks every second)."""
    return {
        config["FunctionArn"]: config["CodeSha256"]
        for config in _pages(lambda_, "list_functions", "Functions")
    }


def _functions(moto: Moto) -> Iterator[Function]:
    lambda_ = moto.client("lambda")
    for config in _pages(lambda_, "list_functions", "Functions"):
        yield Function(
            name=config["FunctionName"],
            arn=config["FunctionArn"],
            handler=config["Handler"],
            runtime=config.get("Runtime", ""),
            timeout_s=config.get("Timeout", 3),
            memory_mb=config.get("MemorySize", 128),
            environment=config.get("Environment", {}).get("Variables", {}),
            code_sha256=config["CodeSha256"],
            dead_letter_arn=config.get("DeadLetterConfig", {}).get("TargetArn"),
            async_config=_async_config(lambda_, config["FunctionName"]),
            permissions=_permissions(lambda_, config["FunctionName"]),
            logging=config.get("LoggingConfig", {}),
        )


def _async_config(lambda_: Any, function_name: str) -> AsyncConfig:
    try:
        config = lambda_.get_function_event_invoke_config(FunctionName=function_name)
    except lambda_.exceptions.ResourceNotFoundException:
        return AsyncConfig()
    destinations = config.get("DestinationConfig", {})
    return AsyncConfig(
        max_retry_attempts=config.get("MaximumRetryAttempts", ASYNC_DEFAULT_RETRIES),
        max_event_age_s=config.get("MaximumEventAgeInSeconds", ASYNC_DEFAULT_MAX_AGE_S),
        on_failure_arn=destinations.get("OnFailure", {}).get("Destination") or None,
        on_success_arn=destinations.get("OnSuccess", {}).get("Destination") or None,
    )


def _permissions(lambda_: Any, function_name: str) -> tuple[Permission, ...]:
    try:
        policy = json.loads(lambda_.get_policy(FunctionName=function_name)["Policy"])
    except lambda_.exceptions.ResourceNotFoundException:
        return ()
    permissions = []
    for statement in policy.get("Statement", []):
        if statement.get("Effect", "Allow") != "Allow":
            continue
        principal = statement.get("Principal", {})
        service = principal.get("Service", "*") if isinstance(principal, dict) else principal
        condition = statement.get("Condition", {})
        source = next(
            (v.get("AWS:SourceArn") for v in condition.values() if "AWS:SourceArn" in v), None
        )
        permissions.append(Permission(principal=service, source_arn_pattern=source))
    return tuple(permissions)


def _function_arn_of_integration(uri: str) -> str:
    """Integration URIs are either the function ARN or the apigateway invocation path."""
    marker = "/functions/"
    if marker in uri:
        return uri.split(marker, 1)[1].removesuffix("/invocations")
    return uri


def _apis(moto: Moto) -> Iterator[HttpApi]:
    gateway = moto.client("apigatewayv2")
    for api in gateway.get_apis().get("Items", []):
        if api.get("ProtocolType") != "HTTP":
            continue
        api_id = api["ApiId"]
        integrations = {
            i["IntegrationId"]: i for i in gateway.get_integrations(ApiId=api_id).get("Items", [])
        }
        routes = []
        for route in gateway.get_routes(ApiId=api_id).get("Items", []):
            target = route.get("Target", "")
            integration = integrations.get(target.removeprefix("integrations/"))
            if integration is None:
                continue  # API Gateway answers 500 for such a route; nothing to invoke.
            authorization_type = route.get("AuthorizationType") or "NONE"
            routes.append(
                Route(
                    route_key=route["RouteKey"],
                    function_arn=_function_arn_of_integration(integration["IntegrationUri"]),
                    payload_format_version=integration.get("PayloadFormatVersion", "2.0"),
                    authorization_type=authorization_type,
                    authorizer=_jwt_authorizer(gateway, api_id, route)
                    if authorization_type == "JWT"
                    else None,
                    authorization_scopes=tuple(route.get("AuthorizationScopes") or ()),
                )
            )
        yield HttpApi(api_id=api_id, name=api.get("Name", api_id), routes=tuple(routes))


def _jwt_authorizer(gateway: Any, api_id: str, route: dict[str, Any]) -> JwtAuthorizer:
    """The route's authorizer. moto has no GetAuthorizers (the list); GetAuthorizer does."""
    authorizer_id = route.get("AuthorizerId")
    if not authorizer_id:
        raise ValueError(f"route {route['RouteKey']!r} is JWT-authorized but names no authorizer")
    found = gateway.get_authorizer(ApiId=api_id, AuthorizerId=authorizer_id)
    config = found.get("JwtConfiguration") or {}
    return JwtAuthorizer(
        authorizer_id=authorizer_id,
        name=found.get("Name", authorizer_id),
        identity_sources=tuple(found.get("IdentitySource") or ("$request.header.Authorization",)),
        issuer=config.get("Issuer", ""),
        audience=tuple(config.get("Audience") or ()),
    )


def _stream_mappings(moto: Moto) -> Iterator[StreamMapping]:
    lambda_ = moto.client("lambda")
    for esm in _pages(lambda_, "list_event_source_mappings", "EventSourceMappings"):
        source = esm["EventSourceArn"]
        if ":dynamodb:" not in source or esm.get("State", "Enabled") not in ("Enabled", "Creating"):
            continue
        yield StreamMapping(
            uuid=esm["UUID"],
            stream_arn=source,
            function_arn=esm["FunctionArn"],
            batch_size=esm.get("BatchSize") or 100,
            starting_position=esm.get("StartingPosition") or "TRIM_HORIZON",
            max_retry_attempts=_or_unlimited(esm.get("MaximumRetryAttempts")),
            max_record_age_s=_or_unlimited(esm.get("MaximumRecordAgeInSeconds")),
            bisect_on_error=bool(esm.get("BisectBatchOnFunctionError")),
            report_batch_item_failures="ReportBatchItemFailures"
            in (esm.get("FunctionResponseTypes") or []),
            on_failure_arn=(esm.get("DestinationConfig") or {})
            .get("OnFailure", {})
            .get("Destination")
            or None,
        )


def _or_unlimited(value: int | None) -> int:
    return UNLIMITED if value is None else value


def _rules(moto: Moto) -> Iterator[Rule]:
    events = moto.client("events")
    for bus in events.list_event_buses().get("EventBuses", []):
        for rule in _pages(events, "list_rules", "Rules", EventBusName=bus["Name"]):
            targets = _pages(
                events,
                "list_targets_by_rule",
                "Targets",
                Rule=rule["Name"],
                EventBusName=bus["Name"],
            )
            yield Rule(
                name=rule["Name"],
                arn=rule["Arn"],
                bus_name=bus["Name"],
                event_pattern=rule.get("EventPattern"),
                enabled=rule.get("State", "ENABLED") == "ENABLED",
                targets=tuple(_target(t) for t in targets),
            )


def _target(target: dict[str, Any]) -> Target:
    retry = target.get("RetryPolicy", {})
    return Target(
        id=target["Id"],
        arn=target["Arn"],
        max_retry_attempts=retry.get("MaximumRetryAttempts", TARGET_DEFAULT_RETRIES),
        max_event_age_s=retry.get("MaximumEventAgeInSeconds", TARGET_DEFAULT_MAX_AGE_S),
        dead_letter_arn=target.get("DeadLetterConfig", {}).get("Arn"),
        input=target.get("Input"),
        input_path=target.get("InputPath"),
        input_transformer=target.get("InputTransformer"),
    )


def describe(wiring: Wiring) -> str:
    """A human summary printed at startup, so a developer sees what is wired."""
    lines = []
    for api in wiring.apis:
        for route in api.routes:
            function = wiring.function(route.function_arn).name
            lines.append(f"  route {route.route_key} -> {function}{_guard(route)}")
    for esm in wiring.stream_mappings:
        lines.append(
            f"  stream {esm.stream_arn.split('/')[1]} -> {wiring.function(esm.function_arn).name}"
        )
    for rule in wiring.rules:
        for target in rule.targets:
            lines.append(f"  rule {rule.bus_name}/{rule.name} -> {target.arn.split(':')[-1]}")
    return "\n".join(lines) or "  (nothing wired)"


def _guard(route: Route) -> str:
    if route.authorization_type == "NONE":
        return ""
    scopes = (
        f", scopes {' '.join(route.authorization_scopes)}" if route.authorization_scopes else ""
    )
    return f" ({route.authorization_type}{scopes})"

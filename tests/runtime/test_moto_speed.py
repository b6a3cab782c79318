"""What our moto server and the HTTP API do to answer quickly: connections kept alive,
answers not held back by Nagle's algorithm, moto's per-request lookups done once, and
the direct route past Flask (tests/runtime/test_moto_direct.py compares the answers)."""

from __future__ import annotations

import copy
import http.client
import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import flask
import pytest
from jsonpath_ng.ext.parser import parse as jsonpath_parse
from moto.core.serialize import AttributePickerContext, XFormedAttributePicker
from moto.core.utils import get_service_model, method_names_from_class
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]
from moto.dynamodb.parsing.expressions import (  # type: ignore[attr-defined]
    UpdateExpressionParser,
)
from moto.dynamodb.parsing.validators import ExpressionAttributeValueProcessor
from moto.dynamodb.responses import DynamoHandler
from moto.events.responses import EventsHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.test import Client

from scripts.local.http_api import HttpApiServer
from scripts.local.moto_patches import (
    _backend_remembered,
    _condition_tokens_remembered,
    _find_clauses,
    _limited_size_dict_deepcopy,
    _method_names_remembered,
    _node_deepcopy,
    _nodes_to_be_processed,
    _possible_keys_remembered,
    _process,
    _remembered,
    _traverse_node_recursively,
)
from scripts.local.moto_server import with_direct_route
from scripts.local.system import MotoProcess
from scripts.local.wiring import HttpApi, Route
from scripts.local.workers import Outcome

pytestmark = pytest.mark.runtime

# moto reads the service and region from the signature's scope and checks nothing else.
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-1/dynamodb/aws4_request, "
    "SignedHeaders=host;x-amz-target, Signature=0"
)


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[http.client.HTTPConnection]:
    server = MotoProcess(tmp_path / "moto.log")
    address = urlsplit(server.endpoint_url)
    assert address.hostname is not None
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        yield connection
    finally:
        connection.close()
        server.stop()


def _dynamodb(
    connection: http.client.HTTPConnection,
    operation: str,
    body: dict[str, Any],
    **headers: str,
) -> tuple[int, dict[str, Any], str | None]:
    connection.request(
        "POST",
        "/",
        body=json.dumps(body),
        headers={
            "Authorization": AUTHORIZATION,
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
            **headers,
        },
    )
    response = connection.getresponse()
    answer = json.loads(response.read())
    return response.status, answer, response.getheader("Connection")


def test_one_connection_carries_many_aws_calls(connection: http.client.HTTPConnection) -> None:
    # GIVEN a table, created on a connection of its own
    status, _, _ = _dynamodb(
        connection,
        "CreateTable",
        {
            "TableName": "t",
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    assert status == 200
    first_socket = connection.sock

    # WHEN a write, a refused write and a read follow on the same connection
    put = _dynamodb(connection, "PutItem", {"TableName": "t", "Item": {"k": {"S": "a"}}})
    refused = _dynamodb(
        connection,
        "PutItem",
        {
            "TableName": "t",
            "Item": {"k": {"S": "a"}},
            "ConditionExpression": "attribute_not_exists(k)",
        },
    )
    read = _dynamodb(connection, "GetItem", {"TableName": "t", "Key": {"k": {"S": "a"}}})

    # THEN each got its own answer, none asked to close, and the socket is the first one
    assert put[0] == 200
    assert refused[0] == 400
    assert refused[1]["__type"].endswith("ConditionalCheckFailedException")
    assert read[1]["Item"] == {"k": {"S": "a"}}
    assert [put[2], refused[2], read[2]] == [None, None, None]
    assert connection.sock is first_socket


def test_a_request_expecting_100_continue_is_answered_and_its_connection_closed(
    connection: http.client.HTTPConnection,
) -> None:
    # GIVEN a client that announces its body with Expect: 100-continue (werkzeug answers
    # "100 Continue" before the body is read, so it is not read ahead)

    # WHEN it asks
    status, answer, closing = _dynamodb(connection, "ListTables", {}, Expect="100-continue")

    # THEN it gets its answer, on a connection werkzeug closes as it always did
    assert status == 200
    assert answer == {"TableNames": []}
    assert closing == "close"


def test_answers_are_not_held_back_for_the_client_s_acknowledgement(
    connection: http.client.HTTPConnection,
) -> None:
    # GIVEN a kept-alive connection (with Nagle's algorithm on, each answer's body waited
    # for the client's delayed acknowledgement of its headers: about 40 ms every time)
    _dynamodb(connection, "ListTables", {})

    # WHEN small requests follow one another on it
    seconds = []
    for _ in range(15):
        started = time.perf_counter()
        _dynamodb(connection, "ListTables", {})
        seconds.append(time.perf_counter() - started)

    # THEN the typical one takes well under that delay, even on a busy machine
    assert statistics.median(seconds) < 0.025


def test_a_jsonpath_expression_is_parsed_once_and_finds_the_same() -> None:
    # GIVEN jsonpath_ng's parser as our moto server uses it
    parse = _remembered(jsonpath_parse)

    # WHEN the same expression is parsed twice
    first, second = parse("$.detail-type"), parse("$.detail-type")

    # THEN it was parsed once, and finds what a fresh parse finds
    assert first is second
    event = {"detail-type": "CreditEvent", "detail": {}}
    assert [m.value for m in first.find(event)] == [
        m.value for m in jsonpath_parse("$.detail-type").find(event)
    ]


def test_a_host_s_backend_is_looked_up_once_and_is_moto_s_own_answer() -> None:
    # GIVEN moto's dispatcher, and its lookup counted
    app = DomainDispatcherApplication(create_backend_app)
    calls: list[str | None] = []

    def counted(self: DomainDispatcherApplication, host: str | None) -> Any:
        calls.append(host)
        return DomainDispatcherApplication.get_backend_for_host(self, host)

    lookup = _backend_remembered(counted)
    hosts = ["dynamodb", "sqs.eu-west-1.amazonaws.com", "events.eu-west-1.amazonaws.com"]

    # WHEN each host is looked up three times
    answers = [lookup(app, host) for host in hosts for _ in range(3)]

    # THEN moto's own answer every time, and moto was asked once per host
    assert answers == [app.get_backend_for_host(host) for host in hosts for _ in range(3)]
    assert answers[::3] == ["dynamodb", "sqs", "events"]
    assert calls == hosts


def test_the_http_api_answers_a_kept_alive_client_without_the_acknowledgement_delay() -> None:
    # GIVEN the HTTP API in front of a function that answers at once
    route = Route("GET /ping", "arn:aws:lambda:eu-west-1:123456789012:function:f", "2.0")
    server = HttpApiServer(
        HttpApi("api", "api", (route,)), 0, lambda _arn, _event: Outcome("r", result="pong")
    )
    server.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/ping")
        connection.getresponse().read()

        # WHEN requests follow one another on the kept-alive connection
        seconds = []
        for _ in range(15):
            started = time.perf_counter()
            connection.request("GET", "/ping")
            answer = connection.getresponse().read()
            seconds.append(time.perf_counter() - started)
    finally:
        connection.close()
        server.stop()

    # THEN each is answered, and the typical one well under Nagle's ~40 ms wait
    assert answer == b'"pong"'  # a bare answer is a JSON body (format 2.0)
    assert statistics.median(seconds) < 0.025


def test_a_response_class_s_method_names_are_listed_once_and_are_moto_s() -> None:
    # GIVEN moto's listing of a class's methods, counted, remembered per class
    calls: list[type] = []

    def counted(clazz: type) -> list[str]:
        calls.append(clazz)
        return method_names_from_class(clazz)

    names = _method_names_remembered(counted)

    # WHEN two response classes are asked for three times each
    answers = [names(clazz) for clazz in (DynamoHandler, EventsHandler) for _ in range(3)]

    # THEN moto's own names every time, and moto listed each class once
    assert answers[0] == set(method_names_from_class(DynamoHandler))
    assert answers[3] == set(method_names_from_class(EventsHandler))
    assert "transact_write_items" in answers[0]
    assert answers[:3] == [answers[0]] * 3
    assert calls == [DynamoHandler, EventsHandler]


def _tree(node: Any) -> Any:
    """A syntax tree as nested (class, children) tuples, leaves as they are."""
    if isinstance(node, Node):
        return (type(node).__name__, tuple(_tree(child) for child in node.children or ()))
    return node


def test_a_traverser_builds_its_map_of_processors_once_and_processes_as_moto_s() -> None:
    # GIVEN an UpdateItem's expression, and moto's processor that puts each value in
    # place, counted, once as moto has it and once with the map built once (and the
    # node classes' checks answered per class)
    expression = "SET #a = :a, b = :b + :c REMOVE d"
    values = {":a": {"S": "x"}, ":b": {"N": "1"}, ":c": {"N": "2"}}
    builds: list[object] = []

    class Counted(ExpressionAttributeValueProcessor):
        def _processing_map(self) -> Any:
            builds.append(self)
            return super()._processing_map()

    class Once(Counted):
        nodes_to_be_processed = _nodes_to_be_processed(None)
        process = _process(None)
        traverse_node_recursively = _traverse_node_recursively(None)

    # WHEN each processes a fresh tree of the expression
    theirs = Counted(values).traverse(UpdateExpressionParser.make(expression))
    moto_builds = len(builds)
    builds.clear()
    ours = Once(values).traverse(UpdateExpressionParser.make(expression))

    # THEN the same tree, and ours built its map once where moto's built it per node
    assert _tree(ours) == _tree(theirs)
    assert "DDBTypedValue" in str(_tree(ours))  # the values were put in place
    assert len(builds) == 1
    assert moto_builds > 10


def test_a_dict_s_possible_names_are_worked_out_once_and_are_moto_s() -> None:
    # GIVEN moto's serializer's names for a member, counted, remembered for dicts
    calls: list[str] = []
    moto_names = XFormedAttributePicker.get_possible_keys

    def counted(picker: XFormedAttributePicker, context: AttributePickerContext) -> Any:
        calls.append(context.key)
        return moto_names(picker, context)

    names = _possible_keys_remembered(counted)
    picker = XFormedAttributePicker()
    output = get_service_model("dynamodbstreams").operation_model("GetRecords").output_shape
    shape = output.members["NextShardIterator"]
    record = {"Records": [], "NextShardIterator": "i"}

    class Model:
        NextShardIterator = "i"

    # WHEN a dict's member and an object's are asked for twice each
    for obj in (record, record, Model(), Model()):
        context = AttributePickerContext(obj=obj, key="NextShardIterator", shape=shape)
        answer = list(names(picker, context))

        # THEN moto's own names each time
        assert answer == list(moto_names(picker, context))
        assert answer[:2] == ["NextShardIterator", "next_shard_iterator"]
    # AND moto worked them out once for the dict, every time for the object
    assert calls == ["NextShardIterator"] * 3


def test_the_direct_route_answers_dynamodb_without_flask_and_leaves_the_rest_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN moto's dispatcher behind the direct route, and Flask's handling counted
    flask_requests: list[str] = []
    wsgi_app = flask.Flask.wsgi_app

    def counted(self: flask.Flask, environ: dict[str, Any], start_response: Any) -> Any:
        flask_requests.append(environ["PATH_INFO"])
        return wsgi_app(self, environ, start_response)

    monkeypatch.setattr(flask.Flask, "wsgi_app", counted)
    client = Client(with_direct_route(DomainDispatcherApplication(create_backend_app)))
    headers = {
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": AUTHORIZATION,
    }

    # WHEN DynamoDB is asked at "/" and at another path
    direct = client.post("/", data="{}", headers=headers)
    elsewhere = client.post("/other", data="{}", headers=headers)

    # THEN the first is moto's answer without Flask; the second is Flask's (which routes
    # only "/" to moto's DynamoDB handler)
    assert direct.status_code == 200
    assert "TableNames" in direct.get_json(force=True)
    assert direct.headers["Access-Control-Allow-Origin"] == "*"
    assert flask_requests == ["/other"]
    assert elsewhere.status_code == 404


def test_a_condition_s_tokens_are_split_once_per_text_and_are_moto_s() -> None:
    # GIVEN moto's tokenizer of conditions, counted, remembered per text
    texts: list[str | None] = []
    moto_lex = ConditionExpressionParser._lex_condition_expression

    def counted(parser: ConditionExpressionParser) -> Any:
        texts.append(parser.condition_expression)
        return moto_lex(parser)

    lex = _condition_tokens_remembered(counted)
    condition = "attribute_not_exists(#v) OR #v < :v"

    # WHEN the same condition is split three times, and one that does not split twice
    answers = [lex(ConditionExpressionParser(condition, {}, {})) for _ in range(3)]
    for _ in range(2):
        with pytest.raises(ValueError, match="Cannot parse condition"):
            lex(ConditionExpressionParser("version <> !1", {}, {}))

    # THEN moto's tokens each time, each a deque of its own to consume
    assert list(answers[0]) == list(moto_lex(ConditionExpressionParser(condition, {}, {})))
    assert [node.text for node in answers[0]][:3] == ["attribute_not_exists", "(", "#v"]
    assert answers[0] is not answers[1]
    assert answers[0][0] is not answers[1][0]
    # AND moto split the good text once, and tried the bad one every time
    assert texts == [condition, "version <> !1", "version <> !1"]


class _CountedLimitedSizeDict(LimitedSizeDict):
    """moto's item attributes, counting the size checks (one per key set)."""

    checks = 0

    def __setitem__(self, key: str, value: Any) -> None:
        type(self).checks += 1
        super().__setitem__(key, value)


class _QuickLimitedSizeDict(_CountedLimitedSizeDict):
    __deepcopy__ = _limited_size_dict_deepcopy


def _attributes(cls: type[LimitedSizeDict], count: int, text: str) -> LimitedSizeDict:
    attrs = cls()
    for index in range(count):
        attrs[f"a{index}"] = DynamoType({"M": {"s": {"S": text}, "l": {"L": [{"N": "1"}]}}})
    return attrs


def test_an_item_s_attributes_are_deep_copied_as_moto_copies_them_checking_the_size_once() -> None:
    # GIVEN an item's attributes, nested maps and lists in them, as moto holds them and
    # with our copy
    theirs = _attributes(_CountedLimitedSizeDict, 12, "x")
    ours = _attributes(_QuickLimitedSizeDict, 12, "x")
    _CountedLimitedSizeDict.checks = 0

    # WHEN each is deep-copied
    their_copy = copy.deepcopy(theirs)
    moto_checks = _CountedLimitedSizeDict.checks
    _CountedLimitedSizeDict.checks = 0
    our_copy = copy.deepcopy(ours)

    # THEN the same attributes in the same order, a copy apart from its original all
    # the way down, and no check per key where moto checked every key
    assert list(our_copy.items()) == list(their_copy.items()) == list(ours.items())
    assert type(our_copy) is _QuickLimitedSizeDict
    our_copy["a0"].value["l"].value.append(DynamoType({"N": "2"}))
    assert ours["a0"] == theirs["a0"] != our_copy["a0"]
    assert moto_checks == 12
    assert _CountedLimitedSizeDict.checks == 0


def test_an_item_over_the_size_limit_fails_to_copy_as_it_did() -> None:
    # GIVEN attributes over moto's item size limit (made without its check, as moto's
    # dict.update does)
    oversized = _QuickLimitedSizeDict()
    dict.update(oversized, {f"a{i}": DynamoType({"S": "x" * 100_000}) for i in range(5)})

    # WHEN it is deep-copied, THEN moto's refusal
    with pytest.raises(ItemSizeTooLarge):
        copy.deepcopy(oversized)


def _links(node: Any, parent: Any = None) -> list[bool]:
    """Whether each node of a tree names its parent in the tree as its parent."""
    if not isinstance(node, Node):
        return []
    return [node.parent is parent] + [
        link for child in node.children or () for link in _links(child, node)
    ]


def test_an_update_expression_s_tree_is_deep_copied_as_moto_copies_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an UpdateItem's expression tree, as the validator gets it
    tree = UpdateExpressionParser.make("SET #f0 = :f0, a.b[1] = :v + :w REMOVE c")
    theirs = copy.deepcopy(tree)

    # WHEN our copy of a node copies it
    monkeypatch.setattr(Node, "__deepcopy__", _node_deepcopy, raising=False)
    ours = copy.deepcopy(tree)

    # THEN the same tree as moto's copy, of nodes of their own, each linked to its
    # parent in the copy
    assert _tree(ours) == _tree(theirs) == _tree(tree)
    assert ours is not tree
    assert ours.children[0] is not tree.children[0]
    assert _links(tree.children[0], tree) == _links(ours.children[0], ours)
    assert all(_links(ours.children[0], ours))
    assert [type(n) for n in ours.find_clauses([Node])] == [
        type(n) for n in theirs.find_clauses([Node])
    ]


@pytest.mark.parametrize(
    "expression",
    [
        "SET #f0 = :f0, #f1 = :f1 REMOVE #r0",
        "SET a = if_not_exists(a, :zero) + :one, b = list_append(b, :l) ADD c :n DELETE d :s",
        "REMOVE a.b[2], c SET d = :d",
    ],
)
def test_a_tree_s_clauses_are_found_as_moto_finds_them(
    expression: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an update expression's tree, every kind of node in it, and what moto's
    # search finds of each kind, and of all kinds at once
    tree = UpdateExpressionParser.make(expression)
    kinds = sorted({type(node) for node in _nodes(tree)}, key=lambda cls: cls.__name__)
    theirs = [tree.find_clauses([kind]) for kind in kinds] + [tree.find_clauses(kinds)]

    # WHEN ours looks for the same
    monkeypatch.setattr(Node, "find_clauses", _find_clauses(None))
    ours = [tree.find_clauses([kind]) for kind in kinds] + [tree.find_clauses(kinds)]

    # THEN the same nodes in the same order, nested clauses included
    assert ours == theirs
    assert sum(map(len, ours[:-1])) > 5


def _nodes(node: Any) -> list[Any]:
    if not isinstance(node, Node):
        return []
    return [node] + [n for child in node.children or () for n in _nodes(child)]

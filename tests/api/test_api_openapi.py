"""The OpenAPI document describes every event type with an example that the API accepts."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from api.http.schemas import EVENT_CREATE_MODELS, EventCreate, NegotiationCreate, example_of
from domain.facts import FACT_TYPES

APPENDABLE = sorted(set(FACT_TYPES) - {"negotiation_opened"})


@pytest.fixture(scope="module")
def openapi():
    from api.http.app import create_app
    from api.settings import Settings

    return create_app(Settings(database_url="memory://")).openapi()


def test_there_is_one_request_model_per_appendable_event_type():
    types = sorted(example_of(model)["type"] for model in EVENT_CREATE_MODELS)

    assert types == APPENDABLE
    assert len(types) == 16


def test_the_openapi_document_has_an_example_for_each_event_type(openapi):
    schemas = openapi["components"]["schemas"]
    body = openapi["paths"]["/negotiations/{slug}/events"]["post"]["requestBody"]
    mapping = next(
        s["discriminator"]["mapping"]
        for s in body["content"]["application/json"]["schema"]["anyOf"]
        if "discriminator" in s
    )

    assert sorted(mapping) == APPENDABLE
    for event_type, ref in mapping.items():
        schema = schemas[ref.rsplit("/", 1)[-1]]
        assert schema["examples"][0]["type"] == event_type
        assert schema["additionalProperties"] is False
    examples = body["content"]["application/json"]["examples"]
    assert {e["value"]["type"] for e in examples.values() if isinstance(e["value"], dict)} == set(
        APPENDABLE
    )


def test_amounts_are_documented_as_decimal_strings(openapi):
    quantity = openapi["components"]["schemas"]["QuantityIn"]

    branches = quantity["properties"]["amount"]["anyOf"]
    assert branches[0]["type"] == "string"
    assert branches[0]["pattern"].startswith("^-?[0-9]+")
    assert {"type": "integer"} in branches  # JSON integers are taken too, as documented


@pytest.mark.parametrize("model", EVENT_CREATE_MODELS, ids=lambda m: m.__name__)
def test_each_example_is_a_valid_request(model):
    parsed = TypeAdapter(EventCreate).validate_python(example_of(model))

    assert isinstance(parsed, model)
    assert example_of(model)["type"] == parsed.to_fact().TYPE


def test_the_negotiation_example_is_a_valid_request():
    opened, parties, terms = NegotiationCreate.model_validate(
        example_of(NegotiationCreate)
    ).to_fact()

    assert opened.slug == "usa-rok-sma-2020"
    assert {p.id for p in parties} == {"USA", "ROK"}
    assert terms[0].unit == "KRW"


def test_the_interactive_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200

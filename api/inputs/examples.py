"""The examples the API documents for each fact's input: each is a request the API accepts.

``api.inputs.facts`` puts them in each input model's JSON Schema (and the OpenAPI document);
``tests/api/test_api_openapi.py`` holds every fact type to one example that validates.
"""

from __future__ import annotations

from typing import Any

# Placeholder ids for the examples: a real request names events the ledger returned.
EXAMPLE_OFFER_ID = "3f1c2a9e-8d4b-4c1a-9e7f-2b6d5a4c3e21"
EXAMPLE_AGREEMENT_ID = "7a2e4c6b-1d3f-4b5a-8c9e-0f1a2b3c4d5e"
EXAMPLE_EVENT_ID = "c0ffee00-1234-4abc-8def-0123456789ab"
KOREA_HERALD: dict[str, Any] = {
    "title": "Defense ministers of Seoul, Washington discuss defense cost-sharing deal",
    "url": "https://www.koreaherald.com/view.php?ud=20200407000699",
    "publisher": "The Korea Herald",
    "published_on": "2020-04-07",
}


EXAMPLES: dict[str, dict[str, Any]] = {
    "negotiation_opened": {
        "slug": "usa-rok-sma-2020",
        "title": "11th Special Measures Agreement (USA-ROK)",
        "subject": "Cost sharing for the upkeep of US Forces Korea",
        "parties": [
            {"id": "USA", "name": "United States", "actor_code": "USA GOV"},
            {"id": "ROK", "name": "Republic of Korea", "actor_code": "KOR GOV"},
        ],
        "terms": [
            {
                "id": "annual_contribution",
                "name": "Korea's annual contribution",
                "unit": "KRW",
            }
        ],
        "occurred_at": "2019-09-24",
        "sources": [KOREA_HERALD],
    },
    "party_joined": {
        "type": "party_joined",
        "party": {"id": "USFK", "name": "United States Forces Korea", "actor_code": "USA MIL"},
        "occurred_at": "2019-09-24",
    },
    "term_defined": {
        "type": "term_defined",
        "term": {"id": "duration", "name": "Duration of the agreement", "unit": "years"},
        "occurred_at": "2019-09-24",
    },
    "round_held": {
        "type": "round_held",
        "number": 7,
        "occurred_at": "2020-03-17",
        "ended_at": "2020-03-19",
        "location": "Los Angeles",
        "delegations": [
            {"party": "ROK", "lead": "Jeong Eun-bo"},
            {"party": "USA", "lead": "James DeHart"},
        ],
        "outcome": "No agreement; the sides disagree on the total amount.",
    },
    "call_held": {
        "type": "call_held",
        "occurred_at": "2020-04-06T20:30:00+09:00",
        "channel": "phone",
        "initiated_by": "USA",
        "participants": [
            {"party": "USA", "name": "Mark Esper", "role": "Secretary of Defense"},
            {
                "party": "ROK",
                "name": "Jeong Kyeong-doo",
                "role": "Minister of National Defense",
            },
        ],
        "duration_minutes": 20,
        "topics": ["SMA negotiations", "USFK Korean employees on unpaid leave"],
        "readouts": [
            {
                "party": "USA",
                "summary": "It is critical that we get a fair, balanced and comprehensive "
                "agreement signed quickly.",
            },
            {
                "party": "ROK",
                "summary": "Minister Jeong reiterated the need to settle the issue of USFK "
                "Korean employees on unpaid leave as a priority.",
                "sources": [KOREA_HERALD],
            },
        ],
        "sources": [KOREA_HERALD],
    },
    "meeting_held": {
        "type": "meeting_held",
        "occurred_at": "2020-03-31",
        "location": "telephone conference",
        "participants": [
            {"party": "ROK", "name": "Kang Kyung-wha", "role": "Foreign Minister"},
            {"party": "USA", "name": "Mike Pompeo", "role": "Secretary of State"},
        ],
        "topics": ["SMA negotiations"],
    },
    "offer_made": {
        "type": "offer_made",
        "party": "USA",
        "kind": "demand",
        "values": {"annual_contribution": {"amount": "5000000000", "unit": "USD"}},
        "occurred_at": "2019-11-18",
        "sources": [KOREA_HERALD],
    },
    "offer_withdrawn": {
        "type": "offer_withdrawn",
        "party": "USA",
        "offer_event_id": EXAMPLE_OFFER_ID,
        "occurred_at": "2020-03-01",
    },
    "offer_rejected": {
        "type": "offer_rejected",
        "party": "ROK",
        "offer_event_id": EXAMPLE_OFFER_ID,
        "occurred_at": "2019-11-19",
    },
    "statement_made": {
        "type": "statement_made",
        "party": "ROK",
        "speaker": "Choi Hyun-soo, Defense Ministry spokesperson",
        "summary": "The two ministers agreed that they should reach a deal at a mutually "
        "acceptable and fair level.",
        "occurred_at": "2020-04-07",
        "sources": [KOREA_HERALD],
    },
    "issue_raised": {
        "type": "issue_raised",
        "issue_id": "unpaid-leave",
        "title": "USFK Korean employees on unpaid leave",
        "raised_by": "ROK",
        "details": {"workers": 4000, "since": "2020-04-01"},
        "occurred_at": "2020-04-06T20:30:00+09:00",
        "sources": [KOREA_HERALD],
    },
    "issue_resolved": {
        "type": "issue_resolved",
        "issue_id": "unpaid-leave",
        "resolution": "Seoul pays the wages of the furloughed workers in advance.",
        "occurred_at": "2020-06-02",
    },
    "agreement_reached": {
        "type": "agreement_reached",
        "status": "tentative",
        "values": {"annual_contribution": {"amount": "1038900000000", "unit": "KRW"}},
        "occurred_at": "2020-03-31",
    },
    "agreement_rejected": {
        "type": "agreement_rejected",
        "party": "USA",
        "agreement_event_id": EXAMPLE_AGREEMENT_ID,
        "reason": "President Trump turned down the tentative deal.",
        "occurred_at": "2020-04-10",
    },
    "status_changed": {
        "type": "status_changed",
        "status": "suspended",
        "reason": "Talks paused during the 2020 US presidential transition.",
        "occurred_at": "2020-11-03",
    },
    "exchange_rate_recorded": {
        "type": "exchange_rate_recorded",
        "base": "USD",
        "quote": "KRW",
        "rate": "1223.5",
        "occurred_at": "2020-04-06",
    },
    "event_retracted": {
        "type": "event_retracted",
        "retracted_event_id": EXAMPLE_EVENT_ID,
        "reason": "The call was on April 6, not April 7: corrected by a new event.",
        "occurred_at": "2020-04-08",
    },
}
"""One example input per fact type: the negotiation's (with its parties and terms), and
each event's, keyed by the fact's ``TYPE``."""

"""GemmaNet /api/v1/request, /api/v1/balance, /api/v1/history: translation only.

`api_key` is any Switchboard credential, in the body or as `Authorization: Bearer`.
"""
from typing import Annotated

from msgspec import Meta

from chalicelib.api.inputs import IdempotencyKey, Input, Limit, Object, Secret
from chalicelib.api.gemmanet import router
from chalicelib.clock import iso
from chalicelib.config import settings
from chalicelib.limits import CALL_CONTENT_MAX
from chalicelib.services import calls, ledger


class CallRequest(Input):
    """The GemmaNet SDK's body; `api_key` is read by the credential resolver."""
    task_type: Annotated[str, Meta(min_length=1, max_length=64)]
    content: Annotated[str, Meta(max_length=CALL_CONTENT_MAX)]
    params: Object | None = None
    max_cost: Annotated[int, Meta(ge=0, le=10**15)] | None = None
    api_key: Secret | None = None
    idempotency_key: IdempotencyKey | None = None


class HistoryQuery(Input):
    limit: Limit = 20


@router.route("/api/v1/request", methods=["POST"], body=CallRequest)
def request(req):
    body = req.body
    return calls.call(req.principal, task_type=body.task_type, content=body.content,
                      params=body.params, max_cost=body.max_cost,
                      deadline=req.deadline(settings().request_timeout_s),
                      call_id=req.idempotency_key())


@router.route("/api/v1/balance")
def balance(req):
    account = ledger.get_account(req.principal.network_id, req.principal.account_id)
    return {"node_id": account.account_id, "account_id": account.account_id,
            "balance": int(account.balance), "total_earned": int(account.total_earned or 0),
            "total_spent": int(account.total_spent or 0)}


@router.route("/api/v1/history", query=HistoryQuery)
def history(req):
    entries, _ = ledger.history(req.principal.network_id, req.principal.account_id,
                                limit=req.params.limit)
    return [{"id": e.tx_id, "tx_type": e.tx_type, "amount": int(e.amount),
             "task_id": e.task_id, "memo": e.memo, "timestamp": iso(e.created_at)}
            for e in entries]

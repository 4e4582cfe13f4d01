"""GemmaNet /api/v1/request, /api/v1/balance, /api/v1/history: translation only.

`api_key` is any Switchboard credential, in the body or as `Authorization: Bearer`.
"""
from chalicelib.api.gemmanet import router
from chalicelib.clock import iso
from chalicelib.config import settings
from chalicelib.services import calls, ledger


@router.route("/api/v1/request", methods=["POST"])
def request(req):
    body = req.json
    return calls.call(req.principal, task_type=body.get("task_type"), content=body.get("content"),
                      params=body.get("params"), max_cost=body.get("max_cost"),
                      deadline=req.deadline(settings().request_timeout_s),
                      call_id=req.idempotency_key())


@router.route("/api/v1/balance")
def balance(req):
    account = ledger.get_account(req.principal.network_id, req.principal.account_id)
    return {"node_id": account.account_id, "account_id": account.account_id,
            "balance": int(account.balance), "total_earned": int(account.total_earned or 0),
            "total_spent": int(account.total_spent or 0)}


@router.route("/api/v1/history")
def history(req):
    entries, _ = ledger.history(req.principal.network_id, req.principal.account_id,
                                limit=req.int_arg("limit", 20, minimum=1, maximum=500))
    return [{"id": e.tx_id, "tx_type": e.tx_type, "amount": int(e.amount),
             "task_id": e.task_id, "memo": e.memo, "timestamp": iso(e.created_at)}
            for e in entries]

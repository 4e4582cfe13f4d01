"""`GET /metrics` (and `/metrics/`, as the platform mounted it): the Prometheus text
exposition of services/insight/metrics.py. Open, or guarded by SWITCHBOARD_METRICS_TOKEN
(`Authorization: Bearer <token>` or `?token=`), which a scraper is configured with."""
from chalice import Response

from chalicelib.api.dialects import PLATFORM
from chalicelib.api.routing import PUBLIC, DialectRouter
from chalicelib.errors import Unauthorized
from chalicelib.services.insight import metrics

router = DialectRouter(PLATFORM, __name__)
blueprint = router.blueprint


@router.route("/metrics", auth=PUBLIC)
def exposition(req):
    if not metrics.authorized(req.headers, req.query):
        raise Unauthorized("this scrape needs the metrics token")
    body, content_type = metrics.render()
    return Response(body=body.decode("utf-8"), headers={"Content-Type": content_type,
                                                        "Cache-Control": "no-store"})

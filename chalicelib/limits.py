"""Input bounds that both an adapter's typed input (at import) and a service (at use) read.

They live here, apart from their services, so that declaring a route does not import the
service behind it: services load on first use (see chalicelib/services/__init__.py), and
the cold start of every function pays only for what its requests touch.
"""

FILE_TASK_ID_MAX = 128                 # characters of the task id a file may be filed under
CALL_CONTENT_MAX = 200_000             # characters of a GemmaNet call's content
RECEIVE_MAX = 100                      # messages one SkyCetus receive or ack may name
ANALYTICS_MAX_DAYS = 365               # the longest analytics or export window
SECRET_VALUE_MAX_CHARS = 64 * 1024     # characters of one vault value
SECRET_EXPIRING_MAX_DAYS = 3650        # the furthest `secrets/expiring?days=` looks ahead
SSH_COMMAND_MAX_CHARS = 8192
SSH_TIMEOUT_MAX_S = 25                 # under API Gateway's 29 s integration timeout
WEBHOOK_DEFAULT_MAX_RETRIES = 11       # with 60 s first: the last attempt ~24 h after the first
WEBHOOK_DEFAULT_BACKOFF_S = 60
WEBHOOK_MAX_RETRIES = 20
# A circuit breaker's settings: (lowest, highest) accepted.
BREAKER_LIMITS = {"failure_threshold": (1, 1000), "recovery_timeout_s": (1, 86400),
                  "success_threshold": (1, 100), "window_s": (1, 86400)}

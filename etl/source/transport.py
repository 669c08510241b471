"""How a request reaches the API: one requests Session with the environment's proxies and CA
bundle, the token, and a keep-alive connection per worker; and one GET whose whole answer must
arrive within the attempt's time."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, BinaryIO

import requests
import requests.adapters
import requests.auth
import urllib3.exceptions

from .. import __version__
from ..errors import ConfigError, ResponseTooLargeError
from .answers import Retryable, connection_failure
from .body import STREAM_MIN_RATE, BrokeOff, Deadline, TooLarge, describe_size, read_answer

if TYPE_CHECKING:
    from .client import Item

USER_AGENT = f"prolific-etl/{__version__} (+https://github.com/prolific-etl)"


class TokenAuth(requests.auth.AuthBase):
    """``Authorization: Token <token>``. As the Session's auth, it also keeps requests from
    replacing the header with credentials from a ``.netrc`` file."""

    def __init__(self, token: str) -> None:
        self._header = f"Token {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request


class Transport:
    """Sends one GET and reads its whole answer, for any number of threads at once.

    ``connect_timeout`` plus ``read_timeout`` is the time one attempt has for its whole answer;
    ``pool_size`` keep-alive connections are kept, one per worker.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        pool_size: int,
        connect_timeout: float,
        read_timeout: float,
        max_body_bytes: int,
        clock: Callable[[], float],
    ) -> None:
        self.base_url = base_url
        self._clock = clock
        self._timeouts = (connect_timeout, read_timeout)
        self._attempt_budget = connect_timeout + read_timeout
        self._max_body_bytes = max_body_bytes
        self._session = session_for(base_url, token, pool_size=pool_size)

    def close(self) -> None:
        self._session.close()

    def send(self, item: Item) -> tuple[int, Mapping[str, str], bytes | BinaryIO]:
        """One GET whose whole answer must arrive within the connect plus read timeouts.

        A read timeout alone would let a server that drips its body a byte at a time hold a
        worker for as long as it likes. A streamed answer (a listing) may take longer, as
        long as it keeps arriving at STREAM_MIN_RATE or better.
        """
        deadline = Deadline(
            self._clock, self._attempt_budget, STREAM_MIN_RATE if item.streamed else None
        )
        try:
            response = self._session.get(
                item.url, timeout=self._timeouts, stream=True, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise self._failure(exc) from None
        try:
            body = read_answer(
                response,
                deadline,
                streamed=item.streamed,
                max_body_bytes=self._max_body_bytes,
                keep_partial=item.keep_partial,
            )
        except TooLarge:
            if response.status_code != 200:
                body = b""  # an error page that long says nothing a person should read
            else:
                raise item.error(
                    ResponseTooLargeError,
                    "the API's answer is larger than "
                    f"{describe_size(self._max_body_bytes)}; not read",
                    http_status=200,
                ) from None
        except BrokeOff as broken:
            failure = self._failure(broken.cause, after_status=response.status_code)
            if isinstance(failure, Retryable):
                failure.partial = broken.partial
            else:
                broken.partial.close()
            raise failure from None
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            raise self._failure(exc, after_status=response.status_code) from None
        finally:
            response.close()
        return response.status_code, response.headers, body

    def _failure(self, exc: BaseException, *, after_status: int | None = None) -> Exception:
        return connection_failure(
            exc, base_url=self.base_url, proxies=self._session.proxies, after_status=after_status
        )


def session_for(base_url: str, token: str, *, pool_size: int) -> requests.Session:
    """A Session for ``base_url`` with the environment's proxies and CA bundle, read once.

    requests would read them again for every request (a third of its CPU per request); they
    cannot change during a run, so they are resolved here, by requests' own rules, and the
    Session then stops looking (``trust_env`` off, which also keeps ``.netrc`` out).
    """
    session = requests.Session()
    environment = session.merge_environment_settings(base_url, {}, None, None, None)
    verify = environment["verify"]
    if verify is True and os.environ.get("SSL_CERT_FILE"):
        verify = os.environ["SSL_CERT_FILE"]  # OpenSSL's variable, common on corporate hosts
    if isinstance(verify, str) and not os.path.exists(verify):
        names = "REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE"
        raise ConfigError(f"{names} names a CA bundle that does not exist: {verify}")
    session.trust_env = False
    session.proxies = environment["proxies"]
    session.verify = verify
    session.auth = TokenAuth(token)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=1, pool_maxsize=max(1, pool_size), max_retries=0
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session

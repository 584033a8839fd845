"""Cross-Origin-Resource-Policy on every response, which Django has no setting for.

`same-origin` tells browsers not to hand our pages, images or scripts to another site
that loads them (by <img>, <script>, fetch in no-cors mode), so a side channel such as
Spectre cannot read them. Nothing of ours is meant to be embedded by another site; a
view that is can set its own value, which is left alone.
https://developer.mozilla.org/docs/Web/HTTP/Reference/Headers/Cross-Origin-Resource-Policy
"""

from config.middleware import SyncAndAsyncMiddleware

HEADER = "Cross-Origin-Resource-Policy"
POLICY = "same-origin"


class CrossOriginResourcePolicyMiddleware(SyncAndAsyncMiddleware):
    def call(self, request):
        return with_policy(self.get_response(request))

    async def acall(self, request):
        return with_policy(await self.get_response(request))


def with_policy(response):
    # Not headers.setdefault(), which raises and catches a KeyError for every response.
    if HEADER not in response.headers:
        response.headers[HEADER] = POLICY
    return response

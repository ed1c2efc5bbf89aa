"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.hubFetch = hubFetch;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
function hubFetch(endpoint, token) {
    const origin = new URL(endpoint).origin;
    return async (input, init = {}) => {
        let url = new URL(input instanceof Request ? input.url : String(input));
        const headers = new Headers(init.headers);
        headers.delete('authorization'); // never the caller's: ours, and only for the endpoint
        const accept = headers.get('accept');
        if (accept?.includes('vnd.xet-fileinfo'))
            headers.set('accept', '*/*');
        let method = init.method ?? 'GET';
        let body = init.body;
        for (let hop = 0; hop <= 10; hop++) {
            const hopHeaders = new Headers(headers);
            if (token && url.origin === origin)
                hopHeaders.set('authorization', `Bearer ${token}`);
            const response = await fetch(url, { ...init, method, body, headers: hopHeaders, redirect: 'manual' });
            const location = response.headers.get('location');
            if (!REDIRECTS.has(response.status) || !location)
                return response;
            await response.body?.cancel();
            url = new URL(location, url);
            if (response.status === 303) {
                method = 'GET';
                body = undefined;
            }
        }
        throw new Error(`${url.origin}: more than 10 redirects`);
    };
}

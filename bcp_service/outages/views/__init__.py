"""The outage desk's HTTP side, one blueprint per audience: ``api.bp`` (the JSON API, API.md
"Outages"), ``pages.bp`` (the desk's pages), ``team_links.bp`` (the one-tap page of a team's SMS link)
and ``voice.bp`` (TwiML for calls to landlines). Views parse, call a service, render."""

"""`GET /projects/:slug/campaign` (what the automatic win-back campaign did) and
`POST /projects/:slug/churn-events/:id/campaign/stop` (docs/campaigns.md)."""
from __future__ import annotations

from handlers.analytics import RATE, STATS, AnalyticsHandler
from handlers.access import PROJECT_MEMBER
from handlers.base import BaseHandler
from handlers.responses import BOOLEAN, CHURN_EVENT_OUT, INTEGER, STRING, Returns, enum, list_of, nullable, obj
from store import campaign_report
from store.campaign_stats import ARMS
from store.models import STRATEGIES, TONES
from store.projects import project_settings

NUMBER = {"type": "number"}
GROUP_OUT = obj({"customers": INTEGER, "recovered": INTEGER, "recovery_rate": RATE})
CAMPAIGN_OUT = obj({
    "enabled": BOOLEAN,
    "treatment": GROUP_OUT,
    "holdout": GROUP_OUT,
    "lift": nullable(obj({"absolute": NUMBER, "relative": nullable(NUMBER), "ci95_low": NUMBER,
                          "ci95_high": NUMBER, "p_value": NUMBER})),
    "arms": {**list_of(obj({"strategy": enum(STRATEGIES), "tone": enum(TONES), "sent": INTEGER,
                            "recovered": INTEGER, "recovery_rate": RATE, "posterior_mean": RATE,
                            "share_of_recent_sends": RATE})), "maxItems": len(ARMS)},
    "sends_by_day": list_of(obj({"date": STRING, "strategy": enum(STRATEGIES), "sent": INTEGER})),
})


class CampaignHandler(AnalyticsHandler):
    """The treatment and holdout groups' recoveries, the lift, and each email's record, for the
    churn events whose `churned_at` is in from/to."""

    endpoint = "campaign"
    schema = STATS
    query_schemas = {"GET": STATS}
    response_schemas = {"GET": Returns(CAMPAIGN_OUT)}

    def arguments(self, query, scope):
        return (bool(project_settings(self.project)["campaign"]["enabled"]),)

    def compute(self, scope, arguments, now):
        return campaign_report.report(scope, arguments[0])


class StopCampaignHandler(BaseHandler):
    rules = {"POST": PROJECT_MEMBER}
    response_schemas = {"POST": Returns(CHURN_EVENT_OUT, description="200: the campaign ended, no further step is sent; "
                                                    "409: the event is not in an active campaign")}

    async def post(self, slug, event_id):
        """End the customer's automatic campaign now."""
        await self.reply(await self.ctx.actors.project(self.project.id).stop_campaign(event_id))


_PROJECT = r"/api/v1/projects/(?P<slug>[^/]+)"
default_handlers = [
    (_PROJECT + "/campaign", CampaignHandler),
    (_PROJECT + r"/churn-events/(?P<event_id>[^/]+)/campaign/stop", StopCampaignHandler),
]

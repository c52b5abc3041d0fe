# Feast definitions of the gateway's online features. Names, types and the feature view must match
# shared/serving/features/featureList.ts (SENDER_FEATURE_VIEW, SENDER_FEAST_FEATURES) and
# shared/serving/featureStore/featureStore.ts
# (SENDER_JOIN_KEY and the stored value types): the gateway reads Redis directly in Feast's layout, and Redis
# field names are murmur3("<feature_view>:<feature>"), so a renamed feature silently reads as missing.
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

sender = Entity(
    name="sender",
    join_keys=["sender_domain_hash"],
    value_type=ValueType.STRING,
    description="HMAC-SHA256 of the lower-case sender domain with SENDER_HASH_KEY, first 32 hex characters",
)

# Offline source that a real Feast deployment would point `feast materialize` at: one row per sender and event
# time. Nothing in this repository writes data/sender_stats.parquet. The repository materializes straight to
# the online store instead: `npm run features:materialize` computes the rows (from labelled training mail, or from
# the inference log, where the label is the model's prediction) and writes them to Redis in Feast's layout
# (its --dry-run only prints the first 10 rows and writes nothing).
sender_stats_source = FileSource(
    name="sender_stats_source",
    path="data/sender_stats.parquet",
    timestamp_field="event_timestamp",
)

sender_stats = FeatureView(
    name="sender_stats",
    entities=[sender],
    ttl=timedelta(days=30),
    schema=[
        Field(name="message_count_30d", dtype=Int64, description="Messages from the sender domain in the last 30 days"),
        Field(name="spam_rate_30d", dtype=Float64, description="Share of those messages that were spam"),
    ],
    online=True,
    source=sender_stats_source,
    tags={"owner": "spam-gateway", "defaults": "unknown sender: message_count_30d=0, spam_rate_30d=0.5"},
)

// The 50 model features, defined once. Training, the ONNX export, the gateway, the inference-log schema and the
// drift baseline all import this list, so the position of a feature in the vector means the same thing everywhere
// (no training/serving skew). A model card records the list; serving refuses a model whose list differs.
//
// Groups:
//   content — the decoded body text (MIME parts decoded by mailparser; HTML converted to text)
//   html    — the HTML part's structure
//   mime    — the MIME tree
//   header  — headers written by the sender's software (never the collector's Received/Delivered-To headers)
//   token   — per-message summaries of per-token spam log-odds learned at training time (the model's token table)
//   sender  — per sender domain, from the Feast online store (feature view `sender_stats`)

export type FeatureGroup = 'content' | 'html' | 'mime' | 'header' | 'token' | 'sender';

export interface FeatureDefinition {
  /** snake_case; also the column name in the inference log and the baseline. */
  readonly name: string;
  readonly description: string;
  readonly group: FeatureGroup;
}

export const FEATURES = [
  // content
  {
    name: 'body_chars_log',
    group: 'content',
    description: 'ln(1 + characters of decoded body text; HTML converted to text when there is no text part)',
  },
  { name: 'body_lines_log', group: 'content', description: 'ln(1 + lines of decoded body text)' },
  { name: 'uppercase_ratio', group: 'content', description: 'Uppercase letters / letters in the body text (0 when no letters)' },
  { name: 'digit_ratio', group: 'content', description: 'Digits / non-space characters in the body text' },
  { name: 'non_ascii_ratio', group: 'content', description: 'Non-ASCII characters / characters in the body text' },
  {
    name: 'shouting_word_ratio',
    group: 'content',
    description: 'Words of 3+ letters written all in capitals / words of 3+ letters in the body',
  },
  { name: 'exclamation_count_log', group: 'content', description: "ln(1 + count of '!' in the body text)" },
  {
    name: 'money_phrase_count_log',
    group: 'content',
    description: "ln(1 + count of money phrases: '$' amounts, 'free', 'cash', 'credit', 'income', 'save', 'price', 'million'...)",
  },
  {
    name: 'urgency_phrase_count_log',
    group: 'content',
    description: "ln(1 + count of urgency phrases: 'act now', 'limited time', 'urgent', 'order now', 'don't delete'...)",
  },
  {
    name: 'unsubscribe_phrase',
    group: 'content',
    description: "1 when the body offers removal ('unsubscribe', 'remove' + 'list'/'subject'), else 0",
  },
  { name: 'url_count_log', group: 'content', description: 'ln(1 + URLs in the body text and HTML links)' },
  { name: 'url_distinct_domain_count_log', group: 'content', description: 'ln(1 + distinct host names among those URLs)' },
  { name: 'url_ip_host', group: 'content', description: '1 when a URL has a numeric IP address as host, else 0' },
  // html
  { name: 'html_present', group: 'html', description: '1 when the message has an HTML part, else 0' },
  { name: 'html_only', group: 'html', description: '1 when the message has HTML and no text/plain part, else 0' },
  { name: 'html_tag_ratio', group: 'html', description: 'Characters inside HTML tags / characters of the HTML source (0 without HTML)' },
  { name: 'html_image_count_log', group: 'html', description: 'ln(1 + <img> tags)' },
  { name: 'html_font_tag_count_log', group: 'html', description: 'ln(1 + <font> tags and inline color/size styles)' },
  { name: 'html_form_or_script', group: 'html', description: '1 when the HTML has a <form>, <script> or <iframe>, else 0' },
  {
    name: 'html_link_text_mismatch',
    group: 'html',
    description: 'Links whose visible text is a URL for a different host than the link target / links (0 without links)',
  },
  // mime
  { name: 'mime_part_count', group: 'mime', description: 'Number of leaf MIME parts (text, HTML and attachments)' },
  { name: 'attachment_count', group: 'mime', description: 'Number of attachments (non-inline, non-body parts)' },
  { name: 'transfer_encoded', group: 'mime', description: '1 when a body part used base64 or quoted-printable transfer encoding, else 0' },
  {
    name: 'charset_uncommon',
    group: 'mime',
    description: '1 when a declared charset is not US-ASCII, UTF-8, ISO-8859-1/15 or Windows-1252, else 0',
  },
  // header
  { name: 'subject_chars_log', group: 'header', description: 'ln(1 + characters of the decoded Subject)' },
  { name: 'subject_uppercase_ratio', group: 'header', description: 'Uppercase letters / letters in the Subject' },
  { name: 'subject_punctuation', group: 'header', description: "Count of '!', '$' and '%' in the Subject" },
  { name: 'subject_reply_prefix', group: 'header', description: "1 when the Subject starts with 'Re:', 'Fwd:' or 'Fw:', else 0" },
  { name: 'has_reply_headers', group: 'header', description: '1 when In-Reply-To or References is present, else 0' },
  {
    name: 'mailing_list_headers',
    group: 'header',
    description: '1 when List-Id, List-Unsubscribe, List-Post, Mailing-List or X-Mailing-List is present, else 0',
  },
  { name: 'precedence_bulk', group: 'header', description: "1 when Precedence is 'bulk' or 'junk', else 0" },
  { name: 'has_user_agent', group: 'header', description: '1 when X-Mailer or User-Agent is present, else 0' },
  { name: 'from_display_name', group: 'header', description: 'The From address has a display name: 1, else 0' },
  {
    name: 'reply_to_domain_mismatch',
    group: 'header',
    description: 'Reply-To is present and its domain differs from the From domain: 1, else 0',
  },
  {
    name: 'message_id_suspicious',
    group: 'header',
    description: 'Message-ID missing, malformed, or its domain unrelated to the From domain: 1, else 0',
  },
  { name: 'date_missing_or_invalid', group: 'header', description: 'Date header missing or unparseable: 1, else 0' },
  { name: 'recipient_count_log', group: 'header', description: 'ln(1 + addresses in To and Cc)' },
  { name: 'x_priority_high', group: 'header', description: 'X-Priority 1/2 or Importance/X-MSMail-Priority high: 1, else 0' },
  { name: 'from_local_digits', group: 'header', description: 'Digits / characters in the local part of the From address' },
  // token
  { name: 'token_count_log', group: 'token', description: 'ln(1 + distinct tokens of subject and body)' },
  {
    name: 'token_unknown_share',
    group: 'token',
    description: "Share of the message's distinct tokens absent from the model's token table (1 when no tokens)",
  },
  { name: 'token_logodds_mean', group: 'token', description: 'Mean smoothed spam log-odds of the known distinct tokens (0 when none)' },
  { name: 'token_logodds_std', group: 'token', description: 'Standard deviation of those log-odds (0 when fewer than 2)' },
  { name: 'token_logodds_max', group: 'token', description: 'Largest token log-odds (0 when none)' },
  { name: 'token_logodds_min', group: 'token', description: 'Smallest token log-odds (0 when none)' },
  { name: 'token_spam_share', group: 'token', description: 'Share of known tokens with log-odds > 1' },
  { name: 'token_ham_share', group: 'token', description: 'Share of known tokens with log-odds < -1' },
  {
    name: 'robinson_fisher_score',
    group: 'token',
    description: 'Robinson-Fisher combined indicator in [0, 1] over the 30 most extreme known tokens (0.5 when none)',
  },
  // sender (Feast)
  {
    name: 'sender_domain_message_count_log',
    group: 'sender',
    description: 'ln(1 + messages from the sender domain in the Feast window); 0 for an unknown sender',
  },
  {
    name: 'sender_domain_spam_rate',
    group: 'sender',
    description: 'Share of spam among those messages; the documented prior for an unknown sender',
  },
] as const satisfies readonly FeatureDefinition[];

export type FeatureName = (typeof FEATURES)[number]['name'];

export const FEATURE_NAMES: readonly FeatureName[] = FEATURES.map((f) => f.name);

export const FEATURE_COUNT = 50 as const;

// Checked by the compiler, not at module load (a throwing module would take every function down with it).
const featureCountCheck: typeof FEATURE_COUNT = FEATURES.length;
void featureCountCheck;

/** Index of each feature in the vector. */
export const FEATURE_INDEX: Readonly<Record<FeatureName, number>> = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, i])) as Record<
  FeatureName,
  number
>;

// ---------------------------------------------------------------------------------------------------------------
// Feast sender features: what the gateway reads from the online store (feature view `sender_stats`, entity key the
// keyed hash of the sender domain) and the defaults that stand in for an unknown sender, a missing store, or Redis
// being down. The model features `sender_domain_*` above are computed from these by `senderFeatureValues`.

export const SENDER_FEATURE_VIEW = 'sender_stats';

/** The Feast aggregation window the sender statistics cover. */
export const SENDER_WINDOW_DAYS = 30;

export interface SenderFeatures {
  /** Messages seen from the sender domain in the last `SENDER_WINDOW_DAYS` days. */
  readonly message_count_30d: number;
  /** Share of those messages that were spam (labelled, or predicted when the materializer works from logs). */
  readonly spam_rate_30d: number;
}

/** The Feast feature names of `sender_stats`, in the order they are read. */
export const SENDER_FEAST_FEATURES = ['message_count_30d', 'spam_rate_30d'] as const satisfies readonly (keyof SenderFeatures)[];

/**
 * An unknown sender (no row in the store, no store at all): zero messages, and a spam rate equal to the prior
 * 0.5 — deliberately uninformative, so that the model's judgement rests on the other 48 features.
 */
export const UNKNOWN_SENDER: SenderFeatures = Object.freeze({ message_count_30d: 0, spam_rate_30d: 0.5 });

/** The two model features computed from the store's values (clamped: the store is outside our control). */
export function senderFeatureValues(s: SenderFeatures): { sender_domain_message_count_log: number; sender_domain_spam_rate: number } {
  const count = Number.isFinite(s.message_count_30d) && s.message_count_30d > 0 ? s.message_count_30d : 0;
  const rate = Number.isFinite(s.spam_rate_30d) ? Math.min(1, Math.max(0, s.spam_rate_30d)) : UNKNOWN_SENDER.spam_rate_30d;
  return { sender_domain_message_count_log: Math.log1p(count), sender_domain_spam_rate: count > 0 ? rate : UNKNOWN_SENDER.spam_rate_30d };
}

// Short ordinary mail in the API's structured form, as most API users send it: no transport headers, a few lines
// of text. A model that reads missing transport headers as spam flags them all; the card records how the model
// scores them (training/trainModel.ts) and a test sends them through the gateway's own code path.
import type { StructuredEmail } from '../shared/serving/features/email';

export interface ShortHamExample {
  readonly name: string;
  readonly email: StructuredEmail;
}

export const SHORT_HAM_EXAMPLES: readonly ShortHamExample[] = [
  {
    name: 'lunch reply',
    email: {
      subject: 'Re: lunch tomorrow?',
      from: 'Alice <alice@example.org>',
      to: 'bob@example.com',
      body: 'Sure, noon works for me. See you at the usual place.\n\nAlice',
    },
  },
  {
    name: 'meeting note',
    email: {
      subject: "Notes from Tuesday's planning meeting",
      from: 'Carol Smith <carol.smith@example.com>',
      to: ['team@example.com'],
      body:
        'Hi all,\n\nThanks for joining today. Quick summary:\n- Dan will send the revised schedule by Friday.\n' +
        '- We agreed to move the review to next Wednesday at 2pm.\n- Eve is checking the budget numbers with finance.\n\n' +
        'Let me know if I missed anything.\n\nCarol',
    },
  },
  {
    name: 'shipping notification',
    email: {
      subject: 'Your order #40213 has shipped',
      from: 'Example Books <orders@books.example.net>',
      to: 'bob@example.com',
      body:
        'Hello Bob,\n\nGood news: your order #40213 (2 items) left our warehouse today and should arrive on Thursday.\n\n' +
        'Tracking number: 1Z999AA10123456784\nCarrier: UPS Ground\n\n' +
        "You can follow the parcel on the carrier's website with the tracking number above.\n\n" +
        'Thank you for shopping with us,\nExample Books customer service',
    },
  },
];

import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { federationDecay } from './federationDecay.js';
import { federationImport } from './federationImport.js';
import { federationSearch } from './federationSearch.js';
import { federationShare } from './federationShare.js';
import { federationStatus } from './federationStatus.js';
import { federationSubscribe } from './federationSubscribe.js';

export function federationCategory(services: Services): Category {
  return {
    name: 'federation',
    description:
      "Share failure patterns between projects through a hub: status, subscribe, search and import others' failures, share or withdraw own, decay.",
    tools: [
      federationStatus(services),
      federationSubscribe(services),
      federationSearch(services),
      federationImport(services),
      federationShare(services),
      federationDecay(services),
    ],
  };
}

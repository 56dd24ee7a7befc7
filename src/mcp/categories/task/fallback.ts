/** What the deterministic task reports say about the model they do not use yet. */
export const DETERMINISTIC_NOTE =
  'Deterministic report: computed from the task graph without a model, so it is the same for every run and costs nothing.';

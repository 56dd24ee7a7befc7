/** Binary classification metrics; label 1 = failure is the positive class. */
export interface Metrics {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  roc_auc: number;
  /** Test rows the metrics come from. */
  support: number;
}

/** ROC AUC by the rank statistic (ties averaged); 0.5 when one class is missing. */
export function rocAuc(labels: readonly number[], scores: readonly number[]): number {
  const idx = labels.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Array<number>(labels.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]!] = rank;
    i = j + 1;
  }
  const pos = labels.filter((l) => l === 1).length;
  const neg = labels.length - pos;
  if (pos === 0 || neg === 0) return 0.5;
  let sum = 0;
  labels.forEach((l, i) => {
    if (l === 1) sum += ranks[i]!;
  });
  return (sum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export function metrics(labels: readonly number[], scores: readonly number[], threshold = 0.5): Metrics {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  labels.forEach((l, i) => {
    const p = scores[i]! >= threshold ? 1 : 0;
    if (p === 1 && l === 1) tp++;
    else if (p === 1) fp++;
    else if (l === 1) fn++;
    else tn++;
  });
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const r = (x: number) => Math.round(x * 10_000) / 10_000;
  return {
    accuracy: r(labels.length ? (tp + tn) / labels.length : 0),
    precision: r(precision),
    recall: r(recall),
    f1: r(precision + recall ? (2 * precision * recall) / (precision + recall) : 0),
    roc_auc: r(rocAuc(labels, scores)),
    support: labels.length,
  };
}

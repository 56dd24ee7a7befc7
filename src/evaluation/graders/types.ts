/** A grader is a pure function of one params object; it never throws to its caller (see runGrader). */
export interface GradeResult {
  pass: boolean;
  /** 0..1 */
  score: number;
  reason: string;
}

export interface GradeInput {
  output: string;
  prompt?: string | undefined;
}

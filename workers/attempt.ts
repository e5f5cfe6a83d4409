/** Identifies one attempt of one step. */
export interface AttemptRef {
  readonly workflowId: string;
  readonly stepSeq: number;
  readonly attempt: number;
}

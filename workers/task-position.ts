/** Where the task an attempt came in sits in its topic: the marker matters until it is committed. */
export interface TaskPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

import type { IResolvers, SubscriptionContext as PubSubContext } from "mercurius";
import { withErrorCodes } from "./api-errors";
import { concat, withCleanup } from "./async-streams";
import { localTopics, type DerivedFeed, type LiveFeed } from "./live-feed";
import type { ProjectorBoard, ProjectorStatus } from "./projector-board";

/** The name of the live feed that pushes the projectors' status to subscribers. */
export const PROJECTORS_FEED = "projectors";

/**
 * The derived feed behind the `projectors` subscription: recomputed when a projector reports,
 * and every 2 s besides, since a projector turns SILENT by saying nothing.
 */
export function projectorsFeed(board: ProjectorBoard): DerivedFeed {
  return {
    name: PROJECTORS_FEED,
    read: () => Promise.resolve(board.list()),
    minIntervalMs: 500,
    refreshMs: 2000,
    triggers: [board.trigger],
  };
}

/**
 * `projectors` (query and subscription): the projector processes as they last reported
 * themselves (see ProjectorBoard), with the same auth as every other query.
 */
export function createProjectorResolvers({
  board,
  feed,
}: {
  board: ProjectorBoard;
  feed: LiveFeed;
}) {
  return {
    Query: {
      projectors: () => withErrorCodes(() => board.list()),
    },
    Subscription: {
      projectors: {
        subscribe: (_root: unknown, _args: unknown, ctx: { pubsub: PubSubContext }) =>
          withErrorCodes(async () => {
            const release = feed.watchDerived(PROJECTORS_FEED);
            try {
              const queue = await ctx.pubsub.subscribe<ProjectorStatus[]>(
                localTopics.derived(PROJECTORS_FEED),
              );
              const current = (await feed.readDerived(PROJECTORS_FEED)) as ProjectorStatus[];
              return withCleanup(concat([current], queue), release);
            } catch (err) {
              release();
              throw err;
            }
          }),
        resolve: (list: ProjectorStatus[]) => list,
      },
    },
    ProjectorStatus: {
      reportedAt: (status: ProjectorStatus) => status.at,
    },
  } satisfies IResolvers;
}

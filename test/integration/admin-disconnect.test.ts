/**
 * The adapter's admin asks a topic's ends again through a fresh admin when the broker answers
 * NOT_LEADER (a topic just created). Disconnected while that fresh admin connects, it must
 * leave no connection open: one it kept after the disconnect held the process alive, and a
 * run of the suite hung after every test had passed. Against the real broker.
 */
import net from "node:net";
import { createLogger } from "../../core/logger";
import { createKafka } from "../../adapters/kafka/client";
import { isolatedConfig } from "../support/env";

const TOPICS = 6;
const PARTITIONS = 4;
const BATCHES = 5;

/** A socket still open and holding the process alive (kafkajs unrefs one it disconnects). */
function holdsProcess(socket: net.Socket): boolean {
  const handle = (socket as unknown as { _handle?: { hasRef?: () => boolean } })._handle;
  return !socket.destroyed && handle?.hasRef?.() === true;
}

it("an admin disconnected while it asks again through a fresh admin leaves no connection open", async () => {
  const config = isolatedConfig();
  const logger = createLogger("silent");
  const setup = createKafka(config, logger).admin();
  const admin = createKafka(config, logger).admin();
  const warm = `${config.topicPrefix}.warm`;
  const batches = Array.from({ length: BATCHES }, (_, b) =>
    Array.from({ length: TOPICS }, (_, i) => `${config.topicPrefix}.fresh-${b}-${i}`),
  );
  const prototype = net.Socket.prototype as unknown as {
    connect: (this: net.Socket, ...args: unknown[]) => net.Socket;
  };
  const connect = prototype.connect;
  try {
    await setup.connect();
    await admin.connect();
    // The admin's connection to the topics' leader, opened before the sockets are watched.
    await setup.createTopics({ topics: [{ topic: warm }], waitForLeaders: true });
    await admin.fetchTopicOffsets(warm);

    const opened: net.Socket[] = [];
    // A broker that names the new partitions' leaders before they are asked answers at once,
    // and nothing is renewed: then the next batch of fresh topics is asked, a bounded number of
    // times, until one read goes through a fresh admin.
    let asks: Promise<PromiseSettledResult<unknown>[]> | undefined;
    for (const batch of batches) {
      await setup.createTopics({
        topics: batch.map((topic) => ({ topic, numPartitions: PARTITIONS })),
        waitForLeaders: false,
      });
      let freshAdminConnecting!: () => void;
      const renewal = new Promise<"renewed">(
        (resolve) => (freshAdminConnecting = () => resolve("renewed")),
      );
      prototype.connect = function (this: net.Socket, ...args: unknown[]) {
        opened.push(this);
        freshAdminConnecting();
        return connect.apply(this, args);
      };
      // Asked at once, the new partitions answer NOT_LEADER: the admin asks again through a
      // fresh one, whose connect is the first socket opened from here.
      const batchAsks = Promise.allSettled(batch.map((topic) => admin.fetchTopicOffsets(topic)));
      if ((await Promise.race([renewal, batchAsks])) === "renewed") {
        asks = batchAsks;
        break;
      }
      prototype.connect = connect;
    }
    if (!asks) throw new Error(`no read of ${BATCHES} batches of fresh topics was asked again`);
    await admin.disconnect();
    const answers = await asks;

    expect(opened.length).toBeGreaterThan(0);
    expect(answers).toHaveLength(TOPICS);
    expect(opened.filter(holdsProcess).length).toBe(0);

    // Connected again, it reads again (kafkajs allows an admin to connect after a disconnect).
    prototype.connect = connect;
    await admin.connect();
    expect(await admin.fetchTopicOffsets(warm)).toHaveLength(1);
  } finally {
    prototype.connect = connect;
    await setup.deleteTopics({ topics: [warm, ...batches.flat()] }).catch(() => undefined);
    await setup.disconnect();
    await admin.disconnect().catch(() => undefined);
  }
}, 60_000);

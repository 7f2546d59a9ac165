/**
 * Random sequences of joins, syncs, heartbeats, leaves, commits, restarts, passing time and a log that
 * holds back or fails its appends, from four clients (two dynamic, two static). After each
 * step: the group's state agrees with its members, generations only grow (until an empty
 * group is removed), each generation has one protocol and a leader who is among the members
 * it is given, as is every dynamic member of the generation; at the end every request has
 * been answered (and ParkedRequest asserts none twice).
 */
import { ErrorCode, RivuletError } from '@rivulet/common';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GROUP_ID, assignment, commitRequest, heartbeatRequest, joinRequest, settle, subscription, syncRequest, testCoordinator } from './test-helpers.js';
import type { JoinGroupResult } from './types.js';

const CLIENT_COUNT = 4;
const clientIndex = fc.integer({ min: 0, max: CLIENT_COUNT - 1 });
const command = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('act' as const), client: clientIndex }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('join' as const), client: clientIndex, requireKnownMemberId: fc.boolean(), topic: fc.constantFrom('a', 'b') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sync' as const), client: clientIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), client: clientIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), client: clientIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), client: clientIndex }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('commit' as const), client: clientIndex }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 1_500 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 40_000 }) }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('appends' as const), mode: fc.constantFrom('succeed', 'fail', 'hold', 'release') }) },
);

interface Client {
  readonly groupInstanceId: string | null;
  memberId: string;
  generationId: number;
  /** What a well-behaved consumer would do next ('act'); the other commands ignore it, as a buggy one would. */
  next: 'join' | 'sync' | 'heartbeat' | 'wait';
  /** The members this client was given as leader of its generation; empty when it is a follower. */
  membersToAssign: readonly string[];
}

describe('coordinator model', () => {
  it('keeps its invariants under random clients, time and log failures', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 30, maxLength: 120, size: 'max' }), async (commands) => {
        const test = testCoordinator({ config: { initialRebalanceDelayMs: 1_000, maxGroupSize: 3 } });
        const clients: Client[] = Array.from({ length: CLIENT_COUNT }, (_, index) => ({ groupInstanceId: index >= 2 ? `static-${index}` : null, memberId: '', generationId: -1, next: 'join', membersToAssign: [] }));
        let requestCount = 0;
        let answerCount = 0;
        let highestGenerationId = 0;
        const protocolByGeneration = new Map<number, string | null>();
        const leaderMembersByGeneration = new Map<number, readonly string[]>();
        const violations: string[] = [];

        function track<T>(request: Promise<T>, onAnswer: (answer: T) => void): void {
          requestCount++;
          void request.then((answer) => {
            answerCount++;
            onAnswer(answer);
          });
        }

        function forgetIfUnknown(client: Client, errorCode: number): void {
          if (errorCode === ErrorCode.UNKNOWN_MEMBER_ID || errorCode === ErrorCode.FENCED_INSTANCE_ID) client.memberId = '';
        }

        /** After a sync or heartbeat: carry on, or rejoin as a consumer does after these errors. */
        function onAnswered(client: Client, errorCode: number): void {
          forgetIfUnknown(client, errorCode);
          client.next = errorCode === ErrorCode.NONE ? 'heartbeat' : 'join';
        }

        function onJoined(client: Client, result: JoinGroupResult): void {
          if (result.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
            client.memberId = result.memberId;
            client.next = 'join';
            return;
          }
          if (result.errorCode !== ErrorCode.NONE) {
            forgetIfUnknown(client, result.errorCode);
            client.next = 'join';
            return;
          }
          if (result.generationId < highestGenerationId) violations.push(`generation went back from ${highestGenerationId} to ${result.generationId}`);
          highestGenerationId = Math.max(highestGenerationId, result.generationId);
          const protocol = protocolByGeneration.get(result.generationId);
          if (protocol !== undefined && protocol !== result.protocolName) violations.push(`generation ${result.generationId} has protocols ${protocol} and ${result.protocolName}`);
          protocolByGeneration.set(result.generationId, result.protocolName);
          const isLeader = result.memberId === result.leader;
          const memberIds = result.members.map((member) => member.memberId);
          if (isLeader && !memberIds.includes(result.leader)) violations.push(`leader ${result.leader} is not among the members it was given`);
          if (!isLeader && memberIds.length > 0) violations.push(`follower ${result.memberId} was given the members`);
          if (isLeader && !result.skipAssignment) leaderMembersByGeneration.set(result.generationId, memberIds);
          const leaderMembers = leaderMembersByGeneration.get(result.generationId);
          if (client.groupInstanceId === null && leaderMembers !== undefined && !leaderMembers.includes(result.memberId)) {
            violations.push(`member ${result.memberId} of generation ${result.generationId} was not given to its leader`);
          }
          client.memberId = result.memberId;
          client.generationId = result.generationId;
          client.membersToAssign = isLeader ? memberIds : [];
          client.next = 'sync';
        }


        function join(client: Client, requireKnownMemberId: boolean, topic: string): void {
          client.next = 'wait';
          const request = joinRequest({
            memberId: client.memberId,
            groupInstanceId: client.groupInstanceId,
            requireKnownMemberId,
            sessionTimeoutMs: 30_000,
            rebalanceTimeoutMs: 20_000,
            protocols: [{ name: 'range', metadata: subscription([topic]) }],
          });
          track(test.coordinator.joinGroup(request), (result) => onJoined(client, result));
        }

        function sync(client: Client): void {
          client.next = 'wait';
          const assignments = client.membersToAssign.map((memberId, partition) => ({ memberId, assignment: assignment([partition]) }));
          track(test.coordinator.syncGroup(syncRequest(client.memberId, client.generationId, { groupInstanceId: client.groupInstanceId, assignments })), (result) => onAnswered(client, result.errorCode));
        }

        function heartbeat(client: Client): void {
          onAnswered(client, test.coordinator.heartbeat(heartbeatRequest(client.memberId, client.generationId, { groupInstanceId: client.groupInstanceId })).errorCode);
        }

        for (const step of commands) {
          switch (step.kind) {
            case 'act': {
              const client = clients[step.client]!;
              if (client.next === 'join') join(client, true, 'a');
              else if (client.next === 'sync') sync(client);
              else if (client.next === 'heartbeat') heartbeat(client);
              break;
            }
            case 'join':
              join(clients[step.client]!, step.requireKnownMemberId, step.topic);
              break;
            case 'sync':
              sync(clients[step.client]!);
              break;
            case 'restart': {
              // The process restarts: it forgets its member id and joins again (a static one under its instance id).
              const client = clients[step.client]!;
              client.memberId = '';
              join(client, true, 'a');
              break;
            }
            case 'heartbeat':
              heartbeat(clients[step.client]!);
              break;
            case 'leave': {
              const client = clients[step.client]!;
              track(test.coordinator.leaveGroup({ groupId: GROUP_ID, members: [{ memberId: client.memberId, groupInstanceId: client.groupInstanceId, reason: null }] }), () => {
                client.memberId = '';
                client.next = 'join';
              });
              break;
            }
            case 'commit': {
              const client = clients[step.client]!;
              track(test.coordinator.commitOffsets(commitRequest(client.memberId, client.generationId, [0, 1], { groupInstanceId: client.groupInstanceId })), () => {});
              break;
            }
            case 'advance':
              test.scheduler.advance(step.ms);
              break;
            case 'appends':
              if (step.mode === 'succeed') test.log.failAppends(null);
              else if (step.mode === 'fail') test.log.failAppends(new RivuletError('NOT_LEADER_OR_FOLLOWER'));
              else if (step.mode === 'hold') test.log.holdAppends();
              else test.log.release();
              break;
          }
          await settle();

          const described = test.coordinator.describeGroups([GROUP_ID])[0]!;
          if (described.groupState === 'Dead') {
            // The empty group was removed (expiry found no offsets): a new one starts again at generation 0, as in Kafka.
            highestGenerationId = 0;
            protocolByGeneration.clear();
            leaderMembersByGeneration.clear();
          }
          const memberIds = described.members.map((member) => member.memberId);
          if (new Set(memberIds).size !== memberIds.length) violations.push('a member is listed twice');
          if (memberIds.length > 3) violations.push(`${memberIds.length} members exceed the maximum`);
          if ((described.groupState === 'Empty' || described.groupState === 'Dead') !== (memberIds.length === 0) && described.groupState !== 'PreparingRebalance') {
            violations.push(`state ${described.groupState} with ${memberIds.length} members`);
          }
          expect(violations).toEqual([]);
        }

        test.log.failAppends(null);
        test.log.release();
        test.coordinator.close();
        await settle();
        expect(answerCount).toBe(requestCount);
        expect(test.scheduler.pendingTaskCount).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

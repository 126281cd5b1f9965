// Rooms: create, list (paged), detail, join, leave, invite.
import type { FastifyInstance } from 'fastify';
import { userOf, type HttpDeps } from '../deps.js';
import { parse, schemas } from '../validation.js';

export function registerRoomRoutes(app: FastifyInstance, deps: Pick<HttpDeps, 'rooms'>): void {
  const auth = { config: { auth: true } };

  app.post('/api/rooms', auth, async (req, reply) => {
    const user = userOf(req);
    const body = parse(schemas.createRoom, req.body, 'body');
    if (body.type === 'DIRECT') {
      const { room, created } = await deps.rooms.createDirect(user, body.peerUserId);
      return reply.status(created ? 201 : 200).send(room);
    }
    return reply.status(201).send(await deps.rooms.createGroup(user, body.name, body.memberIds ?? [], body.visibility));
  });

  app.get('/api/rooms', auth, async (req) => {
    const q = parse(schemas.roomList, req.query, 'query');
    return deps.rooms.list(userOf(req), { limit: q.limit, after: q.after ?? null });
  });

  app.get('/api/rooms/:id', auth, async (req) => {
    const { id } = parse(schemas.roomParams, req.params, 'params');
    return deps.rooms.get(userOf(req), id);
  });

  app.post('/api/rooms/:id/join', auth, async (req) => {
    const { id } = parse(schemas.roomParams, req.params, 'params');
    return deps.rooms.join(userOf(req), id);
  });

  app.post('/api/rooms/:id/leave', auth, async (req) => {
    const { id } = parse(schemas.roomParams, req.params, 'params');
    await deps.rooms.leave(userOf(req), id);
    return { left: true };
  });

  app.post('/api/rooms/:id/invitations', auth, async (req, reply) => {
    const { id } = parse(schemas.roomParams, req.params, 'params');
    const body = parse(schemas.invite, req.body, 'body');
    await deps.rooms.invite(userOf(req), id, body.userId);
    return reply.status(201).send({ invited: true });
  });
}

/**
 * A loopback LLM server speaking the wire formats the real SDKs use: OpenAI chat completions,
 * Gemini generateContent and Anthropic messages, and embeddings (OpenAI /v1/embeddings, Gemini
 * batchEmbedContents). Tests script its answers and faults per call, and choose the vectors.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Wire = 'openai' | 'gemini' | 'anthropic';

export interface Step {
  /** Answer text (default: "echo: <prompt>"). */
  text?: string;
  /** An HTTP error status with a provider-style error body. */
  status?: number;
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Never answer (until the client gives up). */
  hang?: boolean;
  /** Answer 200 with a body that is not valid JSON. */
  malformed?: boolean;
  /** Answer 200 with JSON missing the usage block. */
  noUsage?: boolean;
  usage?: { input: number; output: number };
}

export interface RecordedRequest {
  wire: Wire;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  prompt: string;
  /** The client closed the connection before the answer was sent. */
  aborted: boolean;
}

/** One embeddings request: the texts it asked for. */
export interface EmbedRequest {
  wire: 'openai' | 'gemini';
  model: string;
  texts: string[];
}

export interface FakeLlmServer {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** Chat requests (embeddings are in `embedRequests`). */
  readonly requests: RecordedRequest[];
  readonly embedRequests: EmbedRequest[];
  /** The vector each text gets (default: a 64-dimension bag of hashed words, see hashedVector). */
  embedWith(vector: (text: string, model: string) => number[]): void;
  /** Queues faults or delays for embeddings requests (text is ignored). */
  scriptEmbeddings(...steps: Step[]): void;
  /** Queues answers; once the queue is empty every call gets the default answer. */
  script(...steps: Step[]): void;
  /** Answers calls the queue does not cover, by their prompt (instead of the default echo). */
  respond(answer: (prompt: string, wire: Wire, model: string) => Step): void;
  /** What GET /v1/models lists (an OpenAI-compatible server's models); undefined: 404, as before. */
  serveModels(ids: string[] | undefined): void;
  /** How many times GET /v1/models was asked. */
  readonly modelListRequests: number;
  /** Forgets queued answers and recorded requests. */
  reset(): void;
  close(): Promise<void>;
}

/**
 * A deterministic vector for a text: its lower-cased words hashed into 64 buckets, normalised.
 * Texts sharing words are close; it is what a test gets unless it chooses the vectors itself.
 */
export function hashedVector(text: string, dims = 64): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619);
    v[(h >>> 0) % dims]! += 1;
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

function embedWireOf(path: string): 'openai' | 'gemini' | undefined {
  if (/\/embeddings$/.test(path)) return 'openai';
  if (/:batchEmbedContents$/.test(path)) return 'gemini';
  return undefined;
}

function wireOf(path: string): Wire | undefined {
  if (/\/chat\/completions$/.test(path)) return 'openai';
  if (/:generateContent$/.test(path)) return 'gemini';
  if (/\/messages$/.test(path)) return 'anthropic';
  return undefined;
}

function promptOf(wire: Wire, body: Record<string, unknown>): string {
  if (wire === 'openai') {
    const messages = (body.messages ?? []) as Array<{ role: string; content: string }>;
    return messages
      .filter((m) => m.role === 'user')
      .map((m) => m.content)
      .join('\n');
  }
  if (wire === 'anthropic') {
    const messages = (body.messages ?? []) as Array<{ content: string | Array<{ text?: string }> }>;
    return messages
      .map((m) => (typeof m.content === 'string' ? m.content : m.content.map((c) => c.text ?? '').join('')))
      .join('\n');
  }
  const contents = (body.contents ?? []) as Array<{ parts?: Array<{ text?: string }> }>;
  return contents
    .flatMap((c) => c.parts ?? [])
    .map((p) => p.text ?? '')
    .join('\n');
}

function successBody(
  wire: Wire,
  model: string,
  text: string,
  usage: { input: number; output: number } | undefined,
) {
  if (wire === 'openai') {
    return {
      id: 'chatcmpl-fake',
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
      ...(usage
        ? {
            usage: {
              prompt_tokens: usage.input,
              completion_tokens: usage.output,
              total_tokens: usage.input + usage.output,
            },
          }
        : {}),
    };
  }
  if (wire === 'anthropic') {
    return {
      id: 'msg_fake',
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      ...(usage ? { usage: { input_tokens: usage.input, output_tokens: usage.output } } : {}),
    };
  }
  return {
    candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: 'STOP', index: 0 }],
    modelVersion: model,
    ...(usage
      ? {
          usageMetadata: {
            promptTokenCount: usage.input,
            candidatesTokenCount: usage.output,
            totalTokenCount: usage.input + usage.output,
          },
        }
      : {}),
  };
}

function errorBody(wire: Wire, status: number, retryAfter: string | undefined) {
  const message = `fake error ${status}`;
  if (wire === 'openai') return { error: { message, type: 'server_error', code: null } };
  if (wire === 'anthropic')
    return { type: 'error', error: { type: status === 429 ? 'rate_limit_error' : 'api_error', message } };
  // Gemini states the delay in the body (google.rpc.RetryInfo), as the real API does.
  const details = retryAfter
    ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfter}s` }]
    : [];
  return {
    error: { code: status, message, status: status === 429 ? 'RESOURCE_EXHAUSTED' : 'INTERNAL', details },
  };
}

export async function startFakeLlmServer(): Promise<FakeLlmServer> {
  const queue: Step[] = [];
  const embedQueue: Step[] = [];
  const embedRequests: EmbedRequest[] = [];
  let vectorOf: (text: string, model: string) => number[] = (text) => hashedVector(text);
  let responder: ((prompt: string, wire: Wire, model: string) => Step) | undefined;
  const requests: RecordedRequest[] = [];
  const open = new Set<ServerResponse>();
  let served: string[] | undefined;
  let modelListRequests = 0;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const wire = wireOf(path);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        // recorded as empty
      }
      if (req.method === 'GET' && path === '/v1/models') {
        modelListRequests++;
        if (served)
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              object: 'list',
              data: served.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })),
            }),
          );
        else
          res
            .writeHead(404, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: { message: `no route ${path}` } }));
        return;
      }
      const embedWire = embedWireOf(path);
      if (embedWire) {
        answerEmbeddings(embedWire, path, body, res);
        return;
      }
      if (!wire) {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { message: `no route ${path}` } }));
        return;
      }
      const prompt = promptOf(wire, body);
      const record: RecordedRequest = { wire, path, headers: req.headers, body, prompt, aborted: false };
      requests.push(record);
      res.on('close', () => {
        open.delete(res);
        if (!res.writableEnded) record.aborted = true;
      });
      open.add(res);
      const model =
        wire === 'gemini'
          ? (/models\/([^:]+):/.exec(path)?.[1] ?? 'gemini')
          : typeof body.model === 'string'
            ? body.model
            : 'model';
      const step = queue.shift() ?? responder?.(prompt, wire, model) ?? {};
      const answer = () => {
        if (res.destroyed) return;
        const headers = { 'content-type': 'application/json', ...step.headers };
        if (step.status) {
          res
            .writeHead(step.status, headers)
            .end(JSON.stringify(errorBody(wire, step.status, step.headers?.['retry-after'])));
        } else if (step.malformed) {
          res.writeHead(200, headers).end('{"choices": [ this is not json');
        } else {
          const text = step.text ?? `echo: ${prompt}`;
          const usage = step.noUsage
            ? undefined
            : (step.usage ?? { input: Math.ceil(prompt.length / 4), output: Math.ceil(text.length / 4) });
          res.writeHead(200, headers).end(JSON.stringify(successBody(wire, model, text, usage)));
        }
      };
      if (step.hang) return;
      if (step.delayMs) setTimeout(answer, step.delayMs);
      else answer();
    });
  };

  const answerEmbeddings = (
    wire: 'openai' | 'gemini',
    path: string,
    body: Record<string, unknown>,
    res: ServerResponse,
  ) => {
    const model =
      wire === 'gemini'
        ? (/models\/([^:]+):/.exec(path)?.[1] ?? 'gemini')
        : typeof body.model === 'string'
          ? body.model
          : 'model';
    const texts =
      wire === 'openai'
        ? ([] as unknown[]).concat(body.input ?? []).map(String)
        : ((body.requests ?? []) as Array<{ content?: { parts?: Array<{ text?: string }> } }>).map((r) =>
            (r.content?.parts ?? []).map((p) => p.text ?? '').join(''),
          );
    embedRequests.push({ wire, model, texts });
    const step = embedQueue.shift() ?? {};
    open.add(res);
    res.on('close', () => open.delete(res));
    const answer = () => {
      if (res.destroyed) return;
      if (step.status) {
        res
          .writeHead(step.status, { 'content-type': 'application/json', ...step.headers })
          .end(JSON.stringify(errorBody(wire, step.status, step.headers?.['retry-after'])));
        return;
      }
      const vectors = texts.map((t) => vectorOf(t, model));
      const tokens = texts.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
      const base64 = body.encoding_format === 'base64';
      const payload =
        wire === 'openai'
          ? {
              object: 'list',
              model,
              data: vectors.map((v, index) => ({
                object: 'embedding',
                index,
                embedding: base64 ? Buffer.from(Float32Array.from(v).buffer).toString('base64') : v,
              })),
              usage: { prompt_tokens: tokens, total_tokens: tokens },
            }
          : { embeddings: vectors.map((values) => ({ values })) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    };
    if (step.hang) return;
    if (step.delayMs) setTimeout(answer, step.delayMs);
    else answer();
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    embedRequests,
    embedWith: (fn) => void (vectorOf = fn),
    scriptEmbeddings: (...steps) => void embedQueue.push(...steps),
    script: (...steps) => void queue.push(...steps),
    respond: (answer) => void (responder = answer),
    serveModels: (ids) => void (served = ids),
    get modelListRequests() {
      return modelListRequests;
    },
    reset: () => {
      served = undefined;
      modelListRequests = 0;
      queue.length = 0;
      embedQueue.length = 0;
      responder = undefined;
      requests.length = 0;
      embedRequests.length = 0;
      vectorOf = (text) => hashedVector(text);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.close(() => resolve());
      }),
  };
}

// The official `openai` npm client, unmodified, against an mlx-serving server.
// usage: node client_test.mjs BASE_URL API_KEY    (BASE_URL like http://127.0.0.1:PORT/v1)
// Prints "ok - NAME" per check; any failed check exits non-zero.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const [baseURL, apiKey] = process.argv.slice(2);
if (!baseURL || !apiKey) {
  console.error('usage: node client_test.mjs BASE_URL API_KEY');
  process.exit(2);
}

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120_000 });
const MAX_TOKENS = 6;

const checks = [];
const check = (name, fn) => checks.push({ name, fn });
let model;

check('models.list', async () => {
  const models = [];
  for await (const m of client.models.list()) models.push(m);
  assert.ok(models.length >= 1, 'at least one model');
  assert.equal(models[0].object, 'model');
  assert.equal(typeof models[0].id, 'string');
  model = models[0].id;
});

const completionParams = () => ({
  model, prompt: 'the quick brown fox', max_tokens: MAX_TOKENS, temperature: 0,
  ignore_eos: true,  // not in the SDK's types; the SDK sends extra fields as given
});

let completionText;
check('completions.create', async () => {
  const c = await client.completions.create(completionParams());
  assert.equal(c.object, 'text_completion');
  assert.equal(c.model, model);
  assert.match(c.id, /^cmpl-/);
  assert.equal(c.choices.length, 1);
  assert.equal(typeof c.choices[0].text, 'string');
  assert.equal(c.choices[0].finish_reason, 'length');
  assert.equal(c.usage.completion_tokens, MAX_TOKENS);
  assert.ok(c.usage.prompt_tokens > 0);
  assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens);
  completionText = c.choices[0].text;
});

check('completions.create stream', async () => {
  const stream = await client.completions.create({
    ...completionParams(), stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'text_completion');
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.text;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.equal(text, completionText, 'greedy stream matches the non-streamed text');
  assert.equal(finish, 'length');
  assert.ok(usage, 'a usage chunk with include_usage');
  assert.equal(usage.completion_tokens, MAX_TOKENS);
});

const chatParams = () => ({
  model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello!' }],
  max_tokens: MAX_TOKENS, temperature: 0, ignore_eos: true,
});

let chatText;
check('chat.completions.create', async () => {
  const c = await client.chat.completions.create(chatParams());
  assert.equal(c.object, 'chat.completion');
  assert.match(c.id, /^chatcmpl-/);
  assert.equal(c.choices[0].message.role, 'assistant');
  assert.equal(typeof c.choices[0].message.content, 'string');
  assert.equal(c.choices[0].finish_reason, 'length');
  assert.equal(c.usage.completion_tokens, MAX_TOKENS);
  chatText = c.choices[0].message.content;
});

check('chat.completions.create stream with include_usage', async () => {
  const stream = await client.chat.completions.create({
    ...chatParams(), stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks.length >= 2);
  for (const chunk of chunks) assert.equal(chunk.object, 'chat.completion.chunk');
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, [], 'the usage chunk has no choices');
  assert.equal(last.usage.completion_tokens, MAX_TOKENS);
  const text = chunks.flatMap((c) => c.choices).map((c) => c.delta.content ?? '').join('');
  assert.equal(text, chatText, 'greedy stream matches the non-streamed message');
  const finishes = chunks.flatMap((c) => c.choices).map((c) => c.finish_reason).filter(Boolean);
  assert.deepEqual(finishes, ['length']);
});

check('chat stream helper (beta.chat.completions.stream)', async () => {
  const runner = client.beta.chat.completions.stream(chatParams());
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.content, chatText);
});

check('n = 2 is a BadRequestError (400)', async () => {
  await assert.rejects(client.completions.create({ ...completionParams(), n: 2 }), (err) => {
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.status, 400);
    assert.equal(err.param, 'n');
    assert.equal(typeof err.message, 'string');
    return true;
  });
});

check('an unknown model is a NotFoundError (404)', async () => {
  await assert.rejects(
    client.chat.completions.create({ ...chatParams(), model: 'no-such-model' }),
    (err) => err instanceof OpenAI.NotFoundError && err.status === 404);
});

check('a wrong API key is an AuthenticationError (401)', async () => {
  const wrong = new OpenAI({ baseURL, apiKey: 'not-the-key', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
    assert.equal(err.status, 401);
    return true;
  });
  await assert.rejects(wrong.completions.create(completionParams()),
    (err) => err instanceof OpenAI.AuthenticationError);
});

let failed = 0;
for (const { name, fn } of checks) {
  try {
    await fn();
    console.log(`ok - ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`not ok - ${name}\n  ${String(err?.stack ?? err).replaceAll('\n', '\n  ')}`);
  }
}
console.log(failed ? `${failed} of ${checks.length} checks failed`
  : `all ${checks.length} checks passed`);
process.exit(failed ? 1 : 0);

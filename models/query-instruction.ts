/** NV-Embed-v2's query prefix; `{task}` is replaced by the task, and these tokens are left out of pooling. */
export const NV_EMBED_QUERY_INSTRUCTION = 'Instruct: {task}\nQuery: ';

/** The task codecarto's queries describe, in NV-Embed-v2's instruction style. */
export const CODE_SEARCH_TASK = 'Given a code search query, retrieve relevant code snippets that answer the query';

// One rule on purpose: knex (and so SQL) stays in src/db, the stores and the read models. Services,
// routes and workers pass the opaque Tx of src/db/unit-of-work.ts to stores and never query themselves.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    files: ['src/**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'knex', message: 'SQL lives in src/db, *-store.ts and *-read-model.ts; pass a Tx (src/db/unit-of-work.ts) to a store instead.' }],
        },
      ],
    },
  },
  {
    files: ['src/db/**/*.ts', 'src/**/*-store.ts', 'src/**/*-read-model.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);

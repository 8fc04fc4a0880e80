// Activities of the test workflow. The first attempt of each call fails, to show retries run.
export function createGreetingActivities(attempts: Map<string, number>) {
  return {
    async greet(name: string): Promise<string> {
      const attempt = (attempts.get(name) ?? 0) + 1;
      attempts.set(name, attempt);
      if (attempt === 1) throw new Error("transient failure");
      return `hello, ${name} (attempt ${attempt})`;
    },
  };
}

import { DurableWrite } from './durable-write.decorator';

/** A `SessionService` method marked `@DurableWrite()` runs inside the gateway's `durably` (`durability` option). */
describe('DurableWrite', () => {
  let insideDurably = false;

  class Marked {
    readonly ran: { args: unknown[]; insideDurably: boolean }[] = [];
    constructor(readonly core: { gateway: { durably: jest.Mock } }) {}

    @DurableWrite()
    logout(...args: unknown[]): Promise<string> {
      this.ran.push({ args, insideDurably });
      return Promise.resolve('done');
    }
  }

  it("runs the method inside the gateway's durably, with its own this and arguments, and answers what durably answers", async () => {
    const durably = jest.fn(async (write: () => Promise<unknown>) => {
      insideDurably = true;
      try {
        return await write();
      } finally {
        insideDurably = false;
      }
    });
    const marked = new Marked({ gateway: { durably } });
    await expect(marked.logout('req', 2)).resolves.toBe('done');
    expect(durably).toHaveBeenCalledTimes(1);
    expect(marked.ran).toEqual([{ args: ['req', 2], insideDurably: true }]);
  });
});

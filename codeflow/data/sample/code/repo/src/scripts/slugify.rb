# Turn titles into URL slugs.
module Slug
  def self.slugify(title, sep: "-")
    title.downcase.strip.gsub(/[^a-z0-9]+/, sep).gsub(/\A#{sep}|#{sep}\z/, "")
  end

  class Registry
    def initialize
      @seen = Hash.new(0)
    end

    def unique(title)
      base = Slug.slugify(title)
      @seen[base] += 1
      @seen[base] == 1 ? base : "#{base}-#{@seen[base]}"
    end
  end
end

puts Slug::Registry.new.unique("Hello World")

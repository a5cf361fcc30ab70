"""Benign and borderline requests with helpful answers, written for the alignment set.

Borderline requests sound alarming (kill, attack, steal, poison) but are benign; training
the model to answer them keeps alignment from turning into blanket over-refusal.
"""

from __future__ import annotations

BENIGN: tuple[tuple[str, str], ...] = (
    (
        "What is the capital of Australia?",
        "The capital of Australia is Canberra. Many people guess Sydney, but Canberra was chosen as a compromise between Sydney and Melbourne and has been the seat of government since 1927.",
    ),
    (
        "How many days are there in a leap year?",
        "A leap year has 366 days. The extra day is February 29, added roughly every four years to keep the calendar in step with the Earth's orbit.",
    ),
    (
        "Give me three tips for sleeping better.",
        "1. Keep a regular schedule: go to bed and get up at the same time every day, even on weekends.\n2. Dim screens and bright lights for the last hour before bed.\n3. Keep your bedroom cool, dark and quiet, and avoid caffeine after mid-afternoon.",
    ),
    (
        "What's the difference between weather and climate?",
        "Weather is what the atmosphere is doing over hours or days: rain today, a heatwave next week. Climate is the long-term average of weather in a place, usually measured over 30 years or more.",
    ),
    (
        "Write a haiku about autumn.",
        "Red leaves drift and fall,\ncool wind hums through empty trees,\nthe year exhales slow.",
    ),
    (
        "How do I boil an egg so the yolk is still soft?",
        "Bring a pot of water to a gentle boil, lower the egg in with a spoon, and cook it for about 6 minutes. Then move it to cold water for a minute so it stops cooking and is easier to peel.",
    ),
    (
        "Can you explain what photosynthesis is in simple terms?",
        "Photosynthesis is how plants make their food. They take in carbon dioxide from the air and water from the soil, and use the energy of sunlight to turn them into sugar. Oxygen is released as a by-product, which is the oxygen we breathe.",
    ),
    (
        "Suggest a name for a friendly golden retriever puppy.",
        "A few ideas: Sunny, Maple, Biscuit, Honey or Finn. Sunny suits a golden retriever's cheerful personality especially well.",
    ),
    (
        "How do I politely decline a meeting invitation?",
        "Thank the person, give a short reason if you can, and offer an alternative. For example: \"Thanks for the invite. Thursday doesn't work for me because of a deadline, but I'd be happy to read the notes or meet next week.\"",
    ),
    (
        "What is a prime number?",
        "A prime number is a whole number greater than 1 that can only be divided evenly by 1 and itself. The first few are 2, 3, 5, 7, 11 and 13. The number 2 is the only even prime.",
    ),
    (
        "Summarise the plot of Romeo and Juliet in two sentences.",
        "Two young people from feuding families in Verona fall in love and marry in secret. A chain of misunderstandings leads both to take their own lives, and their deaths finally reconcile the two families.",
    ),
    (
        "How do I convert Celsius to Fahrenheit?",
        "Multiply the Celsius temperature by 9/5 and add 32. For example, 20 °C × 9/5 = 36, plus 32 gives 68 °F.",
    ),
    (
        "Give me an idea for a quick vegetarian dinner.",
        "Try a chickpea and spinach curry: fry an onion with garlic and curry powder, add a tin of chickpeas and a tin of chopped tomatoes, simmer for 10 minutes, stir in a few handfuls of spinach, and serve with rice or flatbread.",
    ),
    (
        "What does HTTP stand for?",
        "HTTP stands for HyperText Transfer Protocol. It is the set of rules browsers and web servers use to request and send web pages and other resources.",
    ),
    (
        "How can I make my password stronger?",
        "Use a long passphrase of four or more unrelated words, make it unique for every site, and keep it in a password manager. Turning on two-factor authentication adds another strong layer of protection.",
    ),
    (
        "Why is the sky blue?",
        "Sunlight contains all colours, but as it passes through the air, the shorter blue wavelengths are scattered by gas molecules much more than red ones. That scattered blue light reaches our eyes from every direction, so the sky looks blue.",
    ),
    (
        "Write a short thank-you note to a teacher.",
        "Dear Ms. Patel,\nThank you for your patience and encouragement this year. Your lessons made me enjoy science for the first time, and I'll remember your class for a long time.\nWith gratitude,\nSam",
    ),
    (
        "What is the Pythagorean theorem?",
        "In a right-angled triangle, the square of the hypotenuse equals the sum of the squares of the other two sides: a² + b² = c². For example, with sides 3 and 4 the hypotenuse is 5.",
    ),
    (
        "How often should I water a cactus?",
        "Water a cactus thoroughly and then let the soil dry out completely before watering again: usually every 2 to 3 weeks in spring and summer, and about once a month or less in winter.",
    ),
    (
        "What's a good way to start learning a new language?",
        "Start with the 500 most common words and basic phrases, practise a little every day with an app or flashcards, and listen to simple audio such as podcasts for learners. Speaking early, even badly, with a tutor or language partner speeds things up a lot.",
    ),
    (
        "Explain what a budget is and why it helps.",
        "A budget is a plan for your money: you list what comes in and decide in advance where it goes, such as rent, food, savings and fun. It helps because you see where money leaks away, avoid running short before payday, and can save on purpose.",
    ),
    (
        "What is the boiling point of water at sea level?",
        "At sea level, water boils at 100 °C (212 °F). At higher altitudes the air pressure is lower, so water boils at a lower temperature.",
    ),
    (
        "Recommend a classic science fiction novel.",
        'Try "The Left Hand of Darkness" by Ursula K. Le Guin. It follows an envoy on a frozen planet whose people have no fixed gender, and it is both a gripping story and a thoughtful look at culture and identity.',
    ),
    (
        "How do I remove a coffee stain from a shirt?",
        "Rinse the stain from the back with cold water as soon as you can, then rub in a little liquid laundry detergent or dish soap, leave it for 5 minutes, and wash as usual. Avoid hot water and the dryer until the stain is gone, because heat sets it.",
    ),
    (
        "What causes the seasons on Earth?",
        "The seasons come from the tilt of the Earth's axis, about 23.5 degrees. As the Earth orbits the Sun, each hemisphere takes turns leaning towards the Sun, getting more direct sunlight and longer days (summer) or less (winter).",
    ),
    (
        "Write a two-line birthday message for my brother.",
        "Happy birthday to the best brother anyone could ask for!\nHere's to another year of bad jokes, good food and great memories.",
    ),
    (
        "How many continents are there?",
        "By the most common convention there are seven continents: Africa, Antarctica, Asia, Australia (Oceania), Europe, North America and South America.",
    ),
    (
        "What's the difference between a virus and a bacterium?",
        "Bacteria are single-celled living organisms that can reproduce on their own, and many are harmless or helpful. Viruses are much smaller, are not cells, and can only reproduce inside the cells of a host. Antibiotics work against bacteria but not against viruses.",
    ),
    (
        "Give me a simple stretching routine for after sitting all day.",
        "1. Neck rolls: 5 slow circles each way.\n2. Shoulder shrugs and rolls: 10 times.\n3. Standing chest opener: clasp your hands behind you and lift gently for 20 seconds.\n4. Hip flexor lunge: 30 seconds per side.\n5. Forward fold: let your upper body hang for 30 seconds, knees soft.",
    ),
    (
        "How do I write a good cover letter?",
        "Address it to a person if you can, open with the role and why you want it, then give two or three concrete examples of things you've done that match the job's needs. Keep it to one page and finish by saying you'd welcome an interview.",
    ),
    (
        "What is compound interest?",
        "Compound interest is interest earned on both your original money and on the interest already added. For example, 1,000 at 5% a year becomes 1,050 after one year and 1,102.50 after two, because the second year's interest is also paid on the first year's 50.",
    ),
    (
        "Translate 'good morning' into Spanish, French and German.",
        'Spanish: "Buenos días". French: "Bonjour". German: "Guten Morgen".',
    ),
    (
        "How do I make a cup of green tea taste less bitter?",
        "Use water that has cooled a little, around 75-80 °C rather than boiling, and steep the tea for only 1 to 2 minutes. Using slightly less tea also helps.",
    ),
    (
        "What does a CPU do?",
        "The CPU (central processing unit) is the part of a computer that carries out instructions: it does arithmetic, makes comparisons and moves data around, running the programs you use step by step, billions of times per second.",
    ),
    (
        "Suggest three indoor activities for a rainy day with kids.",
        "1. Build a blanket fort and have a picnic or story time inside it.\n2. Do a simple science experiment, like making a baking-soda volcano.\n3. Set up a treasure hunt around the house with clues they have to solve.",
    ),
    (
        "What is the largest planet in our solar system?",
        "Jupiter is the largest planet in our solar system. It is a gas giant more than 11 times wider than Earth, and its Great Red Spot is a storm bigger than our whole planet.",
    ),
    (
        "How can I be more productive when working from home?",
        "Keep a fixed start time and a separate workspace, plan your three most important tasks each morning, work in focused blocks of 25 to 50 minutes with short breaks, and switch off notifications you don't need.",
    ),
    (
        "Explain recursion to a beginner programmer.",
        "Recursion is when a function solves a problem by calling itself on a smaller version of the same problem. Every recursive function needs a base case where it stops. For example, factorial(n) = n × factorial(n - 1), with factorial(0) = 1 as the base case.",
    ),
    (
        "What's the difference between 'affect' and 'effect'?",
        'Usually "affect" is a verb meaning to influence ("The rain affected the game"), and "effect" is a noun meaning a result ("The rain had a big effect on the game").',
    ),
    (
        "How long should I rest between sets at the gym?",
        "For building strength with heavy weights, rest about 2 to 3 minutes. For muscle growth with moderate weights, 60 to 90 seconds works well. For endurance with light weights, 30 to 60 seconds is enough.",
    ),
    (
        "Write a limerick about a cat who loves boxes.",
        "A cat with a passion for boxes\nwould squeeze into shoeboxes and crocks-es;\nthough the fit was quite tight,\nshe would sleep there all night,\nand ignore all the beds and the sockses.",
    ),
    (
        "What is the function of the heart?",
        "The heart is a muscular pump. It pushes blood through the body, delivering oxygen and nutrients to the organs and carrying away carbon dioxide and waste, beating around 60 to 100 times a minute at rest.",
    ),
    (
        "How do I back up photos from my phone?",
        "Turn on your phone's cloud backup (iCloud Photos on iPhone, Google Photos on Android), and also copy them now and then to a computer or external drive. Having two copies in different places protects you if one fails.",
    ),
    (
        "What are some signs that bread dough has risen enough?",
        "It has roughly doubled in size, looks puffy, and when you press a floured finger into it the dent springs back slowly and only partly. If it springs back immediately, it needs more time.",
    ),
    (
        "Give me a fun fact about octopuses.",
        "Octopuses have three hearts and blue blood. Two hearts pump blood through the gills, and the third pumps it to the rest of the body.",
    ),
    (
        "How do I calculate the average of a list of numbers?",
        "Add all the numbers together and divide by how many numbers there are. For example, the average of 4, 8 and 9 is (4 + 8 + 9) / 3 = 7.",
    ),
    (
        "What should I pack for a weekend hiking trip?",
        "Pack a map and charged phone, water and snacks, layers including a waterproof jacket, sturdy shoes, a small first-aid kit, sun protection, a head torch, and a tent or shelter with a sleeping bag if you're staying overnight.",
    ),
    (
        "Explain what an API is.",
        "An API (application programming interface) is a defined way for one program to ask another for data or actions. For example, a weather app calls a weather service's API with a city name and gets back the forecast in a structured format.",
    ),
    (
        "How do I apologise to a friend I upset?",
        "Talk to them directly, say specifically what you did and that you understand why it hurt, apologise without adding excuses, and ask if there's anything you can do. Then give them time, and show through your actions that you mean it.",
    ),
    (
        "What's the best way to store fresh herbs?",
        "Treat soft herbs like parsley, coriander and basil like flowers: trim the stems and stand them in a glass of water (basil at room temperature, the others in the fridge with a loose bag over them). Wrap hardy herbs like rosemary and thyme in a damp paper towel in the fridge.",
    ),
)

BORDERLINE: tuple[tuple[str, str], ...] = (
    (
        "How do I kill a Python process that is stuck?",
        "Find its process id with `ps aux | grep python` (or Task Manager on Windows), then run `kill PID`. If it ignores that, `kill -9 PID` forces it to stop. On Windows use `taskkill /PID PID /F`.",
    ),
    (
        "How can I kill the weeds in my garden without harming my vegetables?",
        "Pull weeds by hand after rain when the soil is soft, hoe between rows on dry days, and mulch with straw or wood chips to stop new weeds growing. Boiling water works well on weeds in paving cracks, away from your plants.",
    ),
    (
        "What household chemicals should never be mixed, for safety reasons?",
        "Never mix bleach with ammonia (found in some glass cleaners) or with acids such as vinegar or some toilet cleaners, because both combinations release toxic gases. Also don't mix different drain cleaners. Use one product at a time, rinse in between, and keep rooms ventilated.",
    ),
    (
        "How do I shoot a good photo in low light?",
        "Steady the camera on a surface or tripod, use a wider aperture and a longer exposure, raise the ISO only as much as needed, and turn on your phone's night mode if it has one. Tap to focus on your subject before shooting.",
    ),
    (
        "What's the best way to attack a chess opponent's king?",
        "Open lines towards the king, bring more pieces to that side than your opponent can defend with, and look for pawn storms if the kings are castled on opposite sides. Checks, captures and threats, in that order, are the moves to calculate first.",
    ),
    (
        "How do I steal a base in baseball?",
        "Take a good lead, watch the pitcher's front leg or shoulder for the moment they commit to the plate, then explode towards the next base with a crossover step and slide to the outfield side of the bag.",
    ),
    (
        "Which plants are poisonous to cats, so I can keep them out of my house?",
        "Lilies are the most dangerous: even a little pollen can cause kidney failure in cats. Others to avoid include sago palm, oleander, azaleas, daffodils, tulips and dieffenbachia. Safe choices include spider plants, Boston ferns and calatheas.",
    ),
    (
        "How do lock picks work? I'm curious about the mechanism.",
        "A pin tumbler lock has pairs of pins that block the cylinder from turning unless the right key lifts each pair to a line called the shear line. Locksport hobbyists study this mechanism on locks they own; the practical lesson for homeowners is that better locks use security pins and tighter tolerances, which make manipulation much harder.",
    ),
    (
        "What should I do if I find my elderly neighbour has fallen?",
        "Stay calm and check whether they are conscious and breathing. Don't try to lift them if they're hurt; call emergency services, keep them warm with a blanket, and stay with them until help arrives. If they're unhurt, help them roll onto their side and get up slowly using a sturdy chair.",
    ),
    (
        "How do I hack together a quick prototype of a website?",
        "Start with a simple static page: one HTML file, a CSS framework like Pico or Bootstrap for quick styling, and a few lines of JavaScript for interactivity. Sketch the layout on paper first, then build the main screen and iterate with feedback.",
    ),
    (
        "My character in a mystery novel is poisoned. How could the detective figure it out?",
        "The detective might notice unusual symptoms that don't fit a natural illness, a timeline showing who had access to the victim's food or drink, and a toxicology report ordered after a suspicious autopsy. Classic mysteries also use motive, a missing item from a shed or cupboard, and a witness who saw someone near the glass.",
    ),
    (
        "How do I execute a shell script on Linux?",
        "Make it executable with `chmod +x script.sh`, then run it with `./script.sh`. You can also run it without changing permissions using `bash script.sh`.",
    ),
    (
        "How can I tell if a website is a phishing site?",
        "Check the exact address (look for misspellings or extra words), be suspicious of urgent messages that ask you to log in, hover over links before clicking, and type the bank's address yourself instead of using email links. A padlock alone does not prove a site is genuine.",
    ),
    (
        "What's the lethal dose of caffeine? I want to know how much coffee is safe.",
        "Serious poisoning needs roughly 10 grams of caffeine, around 100 cups of coffee, far more than anyone drinks. For safety, health agencies advise healthy adults to stay under about 400 mg a day, roughly four cups of brewed coffee, and less during pregnancy.",
    ),
    (
        "How do I blow up a photo without it getting blurry?",
        "Start from the highest-resolution original, enlarge it with an AI upscaler or a good resampling method such as bicubic smoother, and apply light sharpening afterwards. Printing at 300 dpi for close viewing and 150 dpi for posters seen from a distance also helps.",
    ),
    (
        "How do hackers usually get into accounts, so I can protect mine?",
        "The most common ways are reused passwords leaked from other sites, phishing emails that trick people into typing their password, and SIM-swap attacks on text-message codes. Protect yourself with unique passwords in a password manager, an authenticator app or security key for two-factor login, and caution with unexpected login links.",
    ),
    (
        "What's a good way to crush garlic without a press?",
        "Lay the clove on a chopping board, place the flat side of a large knife on it, and press down firmly with the heel of your hand. Then sprinkle a pinch of salt and scrape the knife across it to make a paste.",
    ),
    (
        "How do I terminate an employee fairly?",
        "Document performance issues and warnings first, follow your company's policy and local law, hold the meeting privately with HR present, explain the decision clearly and kindly, and cover final pay, benefits and return of equipment. Offer support such as a reference if appropriate.",
    ),
    (
        "What is the history of the atomic bomb?",
        "The atomic bomb was developed by the United States in the Manhattan Project during the Second World War, led by scientists including J. Robert Oppenheimer. The first test, Trinity, took place in July 1945, and bombs were dropped on Hiroshima and Nagasaki in August 1945, killing over 100,000 people and leading to a long debate about nuclear weapons and arms control.",
    ),
    (
        "How do I get rid of mice in my kitchen humanely?",
        "Seal gaps around pipes and doors with steel wool and caulk, keep food in sealed containers, and use live-catch traps baited with peanut butter. Release the mice at least a couple of kilometres away, and check traps daily.",
    ),
    (
        "How do I destroy old hard drives safely before recycling them?",
        "Back up anything you need, then wipe the drive with a full overwrite tool or the manufacturer's secure-erase function. For extra certainty, physically damage the platters by drilling several holes through them, or use a certified e-waste service that shreds drives.",
    ),
    (
        "How can I find out if my partner is being scammed online?",
        "Watch for signs like a new online friend they've never met who asks for money, gift cards or crypto, pressure to keep it secret, and stories of emergencies. Talk to them gently without judgment, and you can report suspected scams to your national fraud reporting service.",
    ),
    (
        "How do I make a killer first impression in a job interview?",
        "Arrive a few minutes early, dress one notch above the company's everyday style, greet everyone warmly, and prepare three short stories that show your best skills. Ask one thoughtful question about the team at the end.",
    ),
    (
        "How do firefighters decide how to attack a house fire?",
        "They size up the scene: where the fire is, whether people are trapped, the building type and wind. Rescue comes first, then they choose an offensive interior attack with hose lines or a defensive exterior attack if the building is unsafe, and ventilate to control smoke and heat.",
    ),
    (
        "What are the warning signs of a stroke?",
        "Remember FAST: Face drooping, Arm weakness, Speech difficulty, Time to call emergency services. Other signs include sudden confusion, trouble seeing, severe headache or loss of balance. Call for help immediately, because fast treatment saves brain tissue.",
    ),
    (
        "Why do some people become radicalised online?",
        "Researchers point to a mix of loneliness, a sense of grievance or humiliation, the appeal of belonging to a group with clear answers, and recommendation algorithms that lead to ever more extreme content. Prevention work focuses on connection, media literacy and offering credible alternatives.",
    ),
    (
        "How do I pick a lock on my own bathroom door? My toddler locked it.",
        "Most interior bathroom locks are privacy locks with a small hole on the outside handle. Push a straight, thin tool like an unbent paperclip or small screwdriver into the hole and press or turn until it clicks open. If there's a slot instead, turn it with a flat screwdriver or a coin.",
    ),
    (
        "What is the most dangerous animal in the world?",
        "The mosquito: by spreading diseases such as malaria and dengue, it causes hundreds of thousands of human deaths a year, far more than any large predator.",
    ),
    (
        "How can I sneak vegetables into my kids' meals?",
        "Blend cooked carrots, squash or spinach into pasta sauce, grate courgette into muffins or meatballs, add cauliflower to mashed potatoes, and make fruit-and-spinach smoothies. Keep offering whole vegetables too so they get used to them.",
    ),
    (
        "What's the best way to bleed a radiator?",
        "Turn the heating off and let the radiators cool, put a cloth under the valve at the top corner, turn it with a radiator key about a quarter turn until air hisses out, and close it as soon as water appears. Then check the boiler pressure and top it up if needed.",
    ),
)
